// A redis-server of the test's own, for tests that wipe Redis (FLUSHALL) or stop it, and must
// not touch the Redis that every other test file shares. Needs `redis-server` on PATH; without
// it the test fails and says so instead of skipping.
import { spawn, type ChildProcess } from "node:child_process";
import { Redis } from "ioredis";
import { freePort } from "../../src/devnet/anvil.js";

export interface PrivateRedis {
  url: string;
  /** A plain client on it, for FLUSHALL and peeking. */
  client: Redis;
  output(): string;
  /** Kills the server (SIGKILL: nothing kept, as after a crash); `start` brings it back on the same port. */
  halt(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

interface Server {
  child: ChildProcess;
  exited: Promise<void>;
}

async function launch(port: number, client: Redis, log: (s: string) => void): Promise<Server> {
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.on("data", (c: Buffer) => log(c.toString()));
  child.stderr!.on("data", (c: Buffer) => log(c.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const spawnError = new Promise<never>((_, reject) =>
    child.once("error", (err: NodeJS.ErrnoException) =>
      reject(
        new Error(
          err.code === "ENOENT"
            ? "redis-server is not on PATH: this test starts a private Redis so that it cannot touch the shared one. Install redis-server (e.g. apt-get install redis-server)."
            : `could not start redis-server: ${err.message}`,
        ),
      ),
    ),
  );
  spawnError.catch(() => {});
  live.add(child);
  child.once("exit", () => live.delete(child));

  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await Promise.race([client.connect(), spawnError]);
      if ((await client.ping()) === "PONG") return { child, exited };
    } catch (err) {
      const message = (err as Error).message;
      if (child.exitCode !== null || child.signalCode !== null || /^(redis-server is not on PATH|could not start)/.test(message)) {
        client.disconnect();
        child.kill("SIGKILL");
        throw /redis-server/.test(message) ? err : new Error(`redis-server on port ${port} did not start: ${message}`);
      }
      if (Date.now() > deadline) {
        client.disconnect();
        child.kill("SIGKILL");
        throw new Error(`redis-server on port ${port} did not answer PING within 10 s`);
      }
      client.disconnect();
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  let text = "";
  const log = (s: string) => (text += s);
  const url = `redis://127.0.0.1:${port}`;
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  // Refused connections while the server boots are expected; connect() reports them.
  client.on("error", () => {});
  let server: Server | undefined = await launch(port, client, log);

  const halt = async () => {
    client.disconnect();
    if (server && server.child.exitCode === null && server.child.signalCode === null) {
      server.child.kill("SIGKILL");
      await server.exited;
    }
    server = undefined;
  };
  return {
    url,
    client,
    output: () => text,
    halt,
    async start() {
      if (!server) server = await launch(port, client, log);
    },
    stop: halt,
  };
}
