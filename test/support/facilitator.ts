// The facilitator as tests run it: the real api (listening on an ephemeral port) and, when
// asked, the real worker in the same process, on this run's database and a Redis prefix of the
// test file's own.
import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { inject } from "vitest";
import { loadConfig } from "../../src/config/config.js";
import { ANVIL_KEYS } from "../../src/devnet/anvil.js";
import { createLogger } from "../../src/logger.js";
import { startWorker, type RunningWorker, type WorkerOptions } from "../../src/runtime/worker.js";
import { startTestApi, testEnv } from "./api.js";
import type { TestChain } from "./chain.js";
import { createTestDatabase } from "./database.js";

export const ADMIN_KEY = "test-admin-key-0123456789";

export interface TestFacilitator {
  api: Awaited<ReturnType<typeof startTestApi>>;
  url: string;
  env: Record<string, string>;
  /** Direct SQL on the run's database, for assertions about the ledger. */
  sql: postgres.Sql;
  startWorker(extra?: Record<string, string>, opts?: WorkerOptions): Promise<RunningWorker>;
  admin(path: string): Promise<{ status: number; json: any }>;
  settle(body: unknown): Promise<{ status: number; json: any }>;
  close(): Promise<void>;
}

export async function startFacilitator(
  chain: TestChain,
  extra: Record<string, string> = {},
  opts: { worker?: boolean } = {},
): Promise<TestFacilitator> {
  const env = testEnv(chain, {
    DATABASE_URL: await createTestDatabase(),
    ADMIN_API_KEY: ADMIN_KEY,
    RELAYER_PRIVATE_KEY: ANVIL_KEYS[0],
    QUEUE_PREFIX: `${inject("redisPrefix")}:${randomBytes(3).toString("hex")}`,
    SETTLE_WAIT_MS: "15000",
    // Tests that stop the worker want their "pending" answer quickly.
    SETTLE_MAX_WAIT_MS: "1000",
    ...extra,
  });
  const api = await startTestApi(chain, env);
  const workers: { close(): Promise<void> }[] = [];
  const sql = postgres(env.DATABASE_URL!, { max: 2, onnotice: () => {} });
  const f: TestFacilitator = {
    api,
    url: api.url,
    env,
    sql,
    async startWorker(more = {}, wopts = {}) {
      const config = loadConfig({ ...env, ...more });
      const w = await startWorker(config, createLogger(config.logLevel), { pollingMs: 100, reconcileIntervalMs: 1_000, ...wopts });
      workers.push(w);
      return w;
    },
    async admin(path) {
      const res = await fetch(`${api.url}${path}`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
      return { status: res.status, json: await res.json() };
    },
    async settle(body) {
      const res = await fetch(`${api.url}/settle`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      return { status: res.status, json: await res.json() };
    },
    async close() {
      await Promise.allSettled(workers.map((w) => w.close()));
      await api.close();
      await sql.end();
    },
  };
  if (opts.worker !== false) await f.startWorker();
  return f;
}
