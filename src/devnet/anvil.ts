import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import path from "node:path";

/**
 * The ten published dev keys of the "test test ... junk" mnemonic that anvil funds by default.
 * They are public knowledge; never use them anywhere real value lives.
 */
export const ANVIL_KEYS = [
  "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
  "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
  "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
  "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
  "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
  "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
  "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
  "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
  "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
  "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
] as const satisfies readonly `0x${string}`[];

export interface AnvilOptions {
  chainId?: number;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Seconds between blocks; omitted means automine (one block per transaction). */
  blockTime?: number;
  host?: string;
}

export interface AnvilInstance {
  rpcUrl: string;
  port: number;
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 15_000;
const STOP_GRACE_MS = 3_000;
const KEEP_LINES = 50;

export function anvilBinaryPath(): string {
  const pkg = createRequire(import.meta.url).resolve("@foundry-rs/anvil-linux-amd64/package.json");
  return path.join(path.dirname(pkg), "bin", "anvil");
}

// Killed synchronously on exit so a test run that forgets stop() (or crashes) leaves no anvil behind.
const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

export async function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error("could not read a free port"))));
    });
  });
}

async function rpcChainId(url: string): Promise<number | undefined> {
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      signal: AbortSignal.timeout(1_000),
    });
    const body = (await res.json()) as { result?: string };
    return body.result ? Number(body.result) : undefined;
  } catch {
    return undefined;
  }
}

class StartError extends Error {
  constructor(
    message: string,
    readonly exitedEarly: boolean,
  ) {
    super(message);
  }
}

async function launch(host: string, port: number, chainId: number, blockTime?: number): Promise<AnvilInstance> {
  const args = ["--host", host, "--port", String(port), "--chain-id", String(chainId)];
  if (blockTime !== undefined) args.push("--block-time", String(blockTime));
  const child = spawn(anvilBinaryPath(), args, { stdio: ["ignore", "pipe", "pipe"] });
  live.add(child);

  // anvil logs every RPC call; the pipes must be drained or it blocks, so keep only a short tail for errors.
  const tail: string[] = [];
  let listening = false;
  const onData = (chunk: Buffer): void => {
    for (const line of chunk.toString("utf8").split("\n")) {
      if (!line.trim()) continue;
      if (line.includes("Listening on")) listening = true;
      tail.push(line);
      if (tail.length > KEEP_LINES) tail.shift();
    }
  };
  child.stdout?.on("data", onData);
  child.stderr?.on("data", onData);

  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once("exit", () => {
      exited = true;
      live.delete(child);
      resolve();
    });
    child.once("error", (err) => {
      tail.push(String(err));
      exited = true;
      live.delete(child);
      resolve();
    });
  });

  const stop = async (): Promise<void> => {
    if (exited) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
    await exit;
    clearTimeout(timer);
  };

  const rpcUrl = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  const deadline = Date.now() + READY_TIMEOUT_MS;
  // Waiting for anvil's own "Listening on" line too means a different process that happens to
  // hold the port (and answers eth_chainId) cannot be mistaken for ours.
  while (Date.now() < deadline && !exited) {
    if (listening && (await rpcChainId(rpcUrl)) === chainId && !exited) {
      return { rpcUrl, port, stop };
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const exitedEarly = exited;
  await stop();
  const why = exitedEarly ? "exited during startup" : `did not answer eth_chainId within ${READY_TIMEOUT_MS} ms`;
  throw new StartError(`anvil on ${rpcUrl} ${why}. Last output:\n${tail.join("\n")}`, exitedEarly);
}

export async function startAnvil(opts: AnvilOptions = {}): Promise<AnvilInstance> {
  const host = opts.host ?? "127.0.0.1";
  const chainId = opts.chainId ?? 84532;
  const pickPort = !opts.port;
  // A picked port can be taken by someone else between our probe and anvil's bind; retry that case.
  for (let attempt = 1; ; attempt++) {
    const port = pickPort ? await freePort(host) : (opts.port as number);
    try {
      return await launch(host, port, chainId, opts.blockTime);
    } catch (err) {
      if (!(pickPort && err instanceof StartError && err.exitedEarly && attempt < 3)) throw err;
    }
  }
}
