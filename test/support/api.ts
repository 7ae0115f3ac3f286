// The real api, built from env-style settings against this run's database and a test chain.
import { inject } from "vitest";
import { loadConfig, type Config } from "../../src/config/config.js";
import { createLogger } from "../../src/logger.js";
import { createApi, type Api } from "../../src/runtime/api.js";
import type { TestChain } from "./chain.js";
import { createTestDatabase } from "./database.js";

export function testEnv(chain: TestChain, extra: Record<string, string> = {}): Record<string, string> {
  return {
    REDIS_URL: inject("redisUrl"),
    RPC_URL_BASE_SEPOLIA: chain.rpcUrl,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    PORT: "0",
    HOST: "127.0.0.1",
    // Tests run many workers at once: none serves metrics unless a test asks for a port.
    WORKER_METRICS_PORT: "0",
    ...extra,
  };
}

export async function startTestApi(chain: TestChain, extra: Record<string, string> = {}): Promise<Api & { config: Config; url: string }> {
  const config = loadConfig({ ...testEnv(chain), DATABASE_URL: extra.DATABASE_URL ?? (await createTestDatabase()), ...extra });
  const api = await createApi(config, createLogger(config.logLevel));
  const url = await api.app.listen({ port: 0, host: "127.0.0.1" });
  return { ...api, config, url };
}
