// Configuration: every variable parsed once; a bad one is named in a single line.
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config/config.js";

const base = { DATABASE_URL: "postgres://u@localhost/db", REDIS_URL: "redis://localhost:6379" };

describe("loadConfig", () => {
  it("applies defaults and enables only networks with an RPC URL", () => {
    const c = loadConfig({ ...base, RPC_URL_BASE_SEPOLIA: "http://127.0.0.1:8545, http://127.0.0.1:8546" });
    expect(c).toMatchObject({ port: 4021, host: "0.0.0.0", settleWaitMs: 25_000, logLevel: "info", apiKeys: [], queuePrefix: "x402" });
    expect(c.networks[0]!.multicallSimulation).toBe(true);
    expect(c.networks.map((n) => [n.name, n.caip2, n.rpcUrls])).toEqual([
      ["base-sepolia", "eip155:84532", ["http://127.0.0.1:8545", "http://127.0.0.1:8546"]],
    ]);
    expect(c.networks[0]!.assets[0]).toMatchObject({
      address: "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
      name: "USDC",
      version: "2",
      decimals: 6,
    });
  });

  it.each([
    [{}, /^DATABASE_URL: is required$/],
    [{ ...base, DATABASE_URL: "mysql://x" }, /^DATABASE_URL: must be a postgres/],
    [{ ...base, REDIS_URL: undefined }, /^REDIS_URL: is required$/],
    [{ ...base, PORT: "70000" }, /^PORT: /],
    [{ ...base, PORT: "abc" }, /^PORT: /],
    [{ ...base, LOG_LEVEL: "loud" }, /^LOG_LEVEL: /],
    [{ ...base, SETTLE_WAIT_MS: "-1" }, /^SETTLE_WAIT_MS: /],
    [{ ...base, ADMIN_API_KEY: "short" }, /^ADMIN_API_KEY: at least 16/],
    [{ ...base, RPC_URL_BASE: "not a url" }, /^RPC_URL_BASE: not an http/],
    [{ ...base, RPC_URL_NARNIA: "http://x" }, /^RPC_URL_NARNIA: no network named narnia/],
    [{ ...base, RELAYER_ADDRESSES: "0x12" }, /^RELAYER_ADDRESSES: 0x12 is not an address$/],
    [{ ...base, NETWORKS_FILE: "/nonexistent.json" }, /^NETWORKS_FILE: cannot read/],
    [{ ...base, RECOVERY_THREADS: "-1" }, /^RECOVERY_THREADS: /],
    [{ ...base, RECOVERY_THREADS: "two" }, /^RECOVERY_THREADS: /],
  ])("refuses %o", (env, message) => {
    expect(() => loadConfig(env as Record<string, string>)).toThrow(ConfigError);
    expect(() => loadConfig(env as Record<string, string>)).toThrow(message);
  });

  it("gives signature recovery the cores beyond the event loop's, two at most, unless told", () => {
    expect(loadConfig(base).recoveryThreads).toBe(Math.max(0, Math.min(2, availableParallelism() - 1)));
    expect(loadConfig({ ...base, RECOVERY_THREADS: "0" }).recoveryThreads).toBe(0);
    expect(loadConfig({ ...base, RECOVERY_THREADS: "3" }).recoveryThreads).toBe(3);
  });

  it("takes the worker's concurrency and head polling, and refuses values out of range", () => {
    expect(loadConfig(base)).toMatchObject({ workerConcurrency: 1000, blockPollMs: 250 });
    expect(loadConfig({ ...base, WORKER_CONCURRENCY: "64", BLOCK_POLL_MS: "1000" })).toMatchObject({
      workerConcurrency: 64,
      blockPollMs: 1000,
    });
    for (const [name, value] of [
      ["WORKER_CONCURRENCY", "0"],
      ["WORKER_CONCURRENCY", "many"],
      ["WORKER_CONCURRENCY", "1.5"],
      ["BLOCK_POLL_MS", "10"],
      ["BLOCK_POLL_MS", "-250"],
    ]) {
      expect(() => loadConfig({ ...base, [name!]: value! })).toThrow(ConfigError);
      expect(() => loadConfig({ ...base, [name!]: value! })).toThrow(new RegExp(`^${name}: `));
    }
  });

  it("treats an empty value as unset", () => {
    expect(loadConfig({ ...base, ADMIN_API_KEY: "", API_KEYS: "" })).toMatchObject({ adminApiKey: undefined, apiKeys: [] });
  });

  it("adds custom chains and assets from NETWORKS_FILE, and checks them", () => {
    const file = join(tmpdir(), `nets-${process.pid}.json`);
    writeFileSync(
      file,
      JSON.stringify({
        networks: [
          {
            name: "my-l2",
            chainId: 777,
            rpcUrls: ["http://127.0.0.1:9"],
            assets: [{ address: "0x1111111111111111111111111111111111111111", name: "Dollar", version: "1", decimals: 6 }],
            multicallSimulation: false,
          },
        ],
      }),
    );
    const c = loadConfig({ ...base, NETWORKS_FILE: file });
    expect(c.networks).toHaveLength(1);
    expect(c.networks[0]).toMatchObject({
      name: "my-l2",
      chainId: 777,
      caip2: "eip155:777",
      v1: false,
      confirmations: 1,
      multicallSimulation: false,
    });
    writeFileSync(file, JSON.stringify({ networks: [{ name: "base", chainId: 1 }] }));
    expect(() => loadConfig({ ...base, NETWORKS_FILE: file })).toThrow(/^NETWORKS_FILE: network base has chain id 8453, not 1$/);
    writeFileSync(
      file,
      JSON.stringify({ networks: [{ name: "x", chainId: 5, assets: [{ address: "0x1", name: "a", version: "1", decimals: 6 }] }] }),
    );
    expect(() => loadConfig({ ...base, NETWORKS_FILE: file })).toThrow(/^NETWORKS_FILE: networks\.0\.assets\.0\.address: not an address$/);
  });

  it("lets an asset name the transfer methods that may move it, and refuses unknown ones", () => {
    const file = join(tmpdir(), `nets-methods-${process.pid}.json`);
    const token = { address: "0x2222222222222222222222222222222222222222", name: "Tether", version: "1", decimals: 6 };
    const write = (transferMethods: unknown) =>
      writeFileSync(
        file,
        JSON.stringify({
          networks: [{ name: "my-l2", chainId: 777, rpcUrls: ["http://127.0.0.1:9"], assets: [{ ...token, transferMethods }] }],
        }),
      );
    write(["permit2"]);
    expect(loadConfig({ ...base, NETWORKS_FILE: file }).networks[0]!.assets[0]!.transferMethods).toEqual(["permit2"]);
    write(["permit3"]);
    expect(() => loadConfig({ ...base, NETWORKS_FILE: file })).toThrow(/^NETWORKS_FILE: networks\.0\.assets\.0\.transferMethods\.0: /);
    write([]);
    expect(() => loadConfig({ ...base, NETWORKS_FILE: file })).toThrow(/^NETWORKS_FILE: networks\.0\.assets\.0\.transferMethods: /);
  });
});

describe("process start with a bad variable", () => {
  it("exits 1 with one line naming the variable, and no stack trace", () => {
    const out = spawnSync("node_modules/.bin/tsx", ["src/main.ts", "api"], {
      env: { PATH: process.env.PATH, ...base, PORT: "nope" },
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(out.status).toBe(1);
    const lines = out.stderr.trim().split("\n");
    expect(lines).toEqual([expect.stringMatching(/^config error: PORT: /)]);
  });

  it("the worker refuses to start without a relayer key", () => {
    const out = spawnSync("node_modules/.bin/tsx", ["src/main.ts", "worker"], {
      env: { PATH: process.env.PATH, ...base },
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(out.status).toBe(1);
    expect(out.stderr.trim()).toBe("config error: RELAYER_PRIVATE_KEY: is required by the worker (or set RELAYER_PRIVATE_KEY_FILE)");
  });
});
