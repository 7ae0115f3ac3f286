// The bench's lab: a chain, a fresh database, and the two systems under test, each in a
// process of its own so they are measured the same way.
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, existsSync, readdirSync, readFileSync } from "node:fs";
import { NODE_FLAGS } from "../src/runtime/node-flags.js";
export { freePort } from "../src/devnet/anvil.js";

export interface Proc {
  child: ChildProcess;
  /** Peak resident set size so far (VmHWM), in MiB, summed over the process and its children (api replicas). */
  peakRssMiB(): number;
  /** CPU time used so far (user + system), in ms, summed over the live process and its children. */
  cpuMs(): number;
  stop(): Promise<void>;
}

export function startProcess(args: string[], env: Record<string, string>, nodeFlags: string[] = []): Proc {
  // Compiled JavaScript (dist/) runs as production does; TypeScript goes through tsx.
  const loader = args[0]!.endsWith(".js") ? [] : ["--import", "tsx"];
  // Ours runs with the heap settings its start scripts give it; flags given here come after
  // them and win (BENCH_NODE_FLAGS).
  const production = args[0] === OUR_MAIN ? NODE_FLAGS : [];
  const child = spawn(process.execPath, [...production, ...nodeFlags, ...loader, ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const tail: string[] = [];
  const keep = (chunk: Buffer) => {
    tail.push(...chunk.toString().split("\n"));
    tail.splice(0, Math.max(0, tail.length - 40));
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  // BENCH_LOG_DIR=dir keeps each process's whole output there.
  if (process.env.BENCH_LOG_DIR) {
    const out = createWriteStream(`${process.env.BENCH_LOG_DIR}/${args.join("_").replace(/[^\w.-]+/g, "_")}.${child.pid}.log`);
    child.stdout!.pipe(out);
    child.stderr!.pipe(out);
  }
  child.on("exit", (code, signal) => {
    if (code !== 0 && signal !== "SIGTERM" && signal !== "SIGKILL")
      console.error(`${args.join(" ")} exited (${code ?? signal}):\n${tail.join("\n")}`);
  });
  return {
    child,
    peakRssMiB: () => processTree(child.pid!).reduce((sum, pid) => sum + peakKiB(pid), 0) / 1024,
    cpuMs: () => processTree(child.pid!).reduce((sum, pid) => sum + cpuTicks(pid), 0) * (1000 / CLOCK_TICKS),
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        const t = setTimeout(() => child.kill("SIGKILL"), 5_000);
        child.once("exit", () => (clearTimeout(t), resolve()));
        child.kill("SIGTERM");
      }),
  };
}

function peakKiB(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0; // gone meanwhile
  }
}

// USER_HZ: the unit of utime and stime in /proc/<pid>/stat (100 on every Linux this runs on).
const CLOCK_TICKS = 100;

function cpuTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
  } catch {
    return 0; // gone meanwhile
  }
}

/** `root` and every live descendant, found through the parent pid in /proc/<pid>/stat. */
function processTree(root: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      parentOf.set(Number(entry), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // exited while listing
    }
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) for (const [pid, ppid] of parentOf) if (ppid === tree[i]) tree.push(pid);
  return tree;
}

export async function waitForHttp(url: string, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > end) throw new Error(`${url} did not come up within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The first line a process prints (the peer prints its URL). */
export function firstLine(proc: Proc, timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = "";
    const t = setTimeout(() => reject(new Error("no output in time")), timeoutMs);
    proc.child.stdout!.on("data", (c: Buffer) => {
      buf += c.toString();
      const nl = buf.indexOf("\n");
      if (nl >= 0) {
        clearTimeout(t);
        resolve(buf.slice(0, nl).trim());
      }
    });
  });
}

/** Our api's and worker's environment on the bench chain and database. */
export function ourEnv(o: { databaseUrl: string; rpcUrl: string; port: number; queuePrefix: string; relayerKeys: string[] }) {
  const env = process.env;
  return {
    DATABASE_URL: o.databaseUrl,
    REDIS_URL: env.REDIS_URL ?? "redis://127.0.0.1:6379",
    RPC_URL_BASE_SEPOLIA: o.rpcUrl,
    RELAYER_PRIVATE_KEY: o.relayerKeys.join(","),
    QUEUE_PREFIX: o.queuePrefix,
    PORT: String(o.port),
    HOST: "127.0.0.1",
    LOG_LEVEL: env.BENCH_LOG_LEVEL ?? "warn",
    SETTLE_WAIT_MS: "60000",
    SETTLE_MAX_WAIT_MS: "60000",
    API_PROCESSES: env.BENCH_API_PROCESSES ?? "1",
  };
}

/** Our facilitator's entry point as `npm start` runs it: dist/ when built (npm run bench builds it). */
export const OUR_MAIN = existsSync(new URL("../dist/main.js", import.meta.url)) ? "dist/main.js" : "src/main.ts";
