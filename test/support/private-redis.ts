// A redis-server of the test's own, for tests that wipe Redis (FLUSHALL) and must not touch the
// Redis that every other test file shares. Needs `redis-server` on PATH; without it the test
// fails and says so instead of skipping.
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { Redis } from "ioredis";

export interface PrivateRedis {
  url: string;
  /** A plain client on it, for FLUSHALL and peeking. */
  client: Redis;
  output(): string;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error("could not find a free port"))));
    });
  });
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let text = "";
  child.stdout!.on("data", (c: Buffer) => (text += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (text += c.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const spawnError = new Promise<never>((_, reject) =>
    child.once("error", (err: NodeJS.ErrnoException) =>
      reject(
        new Error(
          err.code === "ENOENT"
            ? "redis-server is not on PATH: this test starts a private Redis so that FLUSHALL cannot touch the shared one. Install redis-server (e.g. apt-get install redis-server)."
            : `could not start redis-server: ${err.message}`,
        ),
      ),
    ),
  );
  spawnError.catch(() => {});
  live.add(child);
  child.once("exit", () => live.delete(child));

  const url = `redis://127.0.0.1:${port}`;
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  // Refused connections while the server boots are expected; connect() reports them.
  client.on("error", () => {});
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await Promise.race([client.connect(), spawnError]);
      if ((await client.ping()) === "PONG") break;
    } catch (err) {
      if (
        child.exitCode !== null ||
        child.signalCode !== null ||
        (err as Error).message.startsWith("redis-server is not on PATH") ||
        (err as Error).message.startsWith("could not start")
      ) {
        client.disconnect();
        child.kill("SIGKILL");
        throw err instanceof Error && /redis-server/.test(err.message)
          ? err
          : new Error(`redis-server on port ${port} did not start: ${(err as Error).message}\n${text}`);
      }
      if (Date.now() > deadline) {
        client.disconnect();
        child.kill("SIGKILL");
        throw new Error(`redis-server on port ${port} did not answer PING within 10 s\n${text}`);
      }
      client.disconnect();
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  return {
    url,
    client,
    output: () => text,
    async stop() {
      client.disconnect();
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGKILL");
        await exited;
      }
    },
  };
}
