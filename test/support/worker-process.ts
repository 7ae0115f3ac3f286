// The settlement worker as a real OS process (`main.ts worker`), for tests that kill it. It runs
// as `node --import tsx src/main.ts worker`, which is what `tsx src/main.ts worker` does minus the
// tsx wrapper process: the pid we hold is the worker itself, so a SIGKILL it sends itself shows
// up as signal SIGKILL here, and killing it leaves no grandchild behind.
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const KEEP_CHARS = 40_000;

export interface WorkerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface WorkerProcess {
  pid: number;
  /** Everything the process wrote (stdout + stderr, most recent ~40 kB): for failure messages. */
  output(): string;
  /** Resolves when the process has exited, with how it ended. */
  exited: Promise<WorkerExit>;
  /** Resolves once the worker logged "worker started" (its startup sweep is done); rejects if it exits first. */
  ready(timeoutMs?: number): Promise<void>;
  /** Settles when a log line matching `pattern` appears; rejects on exit or timeout. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGKILLs the process (if still alive) and waits for it to be gone. */
  kill(): Promise<WorkerExit>;
}

// Every worker still alive when the test process exits is killed synchronously, so a crashed
// or timed-out test run leaves no worker behind.
const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

export function spawnWorker(env: Record<string, string>): WorkerProcess {
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts", "worker"], {
    cwd: ROOT,
    // The readiness and fault-point checks read the log, so it is always on (info), whatever the caller's env says.
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env, LOG_LEVEL: "info" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  live.add(child);
  let text = "";
  const listeners = new Set<() => void>();
  const append = (chunk: Buffer) => {
    text += chunk.toString();
    if (text.length > KEEP_CHARS) text = text.slice(-KEEP_CHARS);
    for (const l of listeners) l();
  };
  child.stdout!.on("data", append);
  child.stderr!.on("data", append);

  let exit: WorkerExit | undefined;
  const exited = new Promise<WorkerExit>((resolve) => {
    child.once("exit", (code, signal) => {
      exit = { code, signal };
      live.delete(child);
      for (const l of listeners) l();
      resolve(exit);
    });
    child.once("error", (err) => {
      text += `\n[spawn error] ${err.message}\n`;
      exit = { code: -1, signal: null };
      live.delete(child);
      for (const l of listeners) l();
      resolve(exit);
    });
  });

  const waitForLog = (pattern: RegExp, timeoutMs = 20_000) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const line = text.split("\n").find((l) => pattern.test(l));
        if (line !== undefined) return done(() => resolve(line));
        if (exit)
          return done(() =>
            reject(new Error(`worker ${child.pid} exited (${JSON.stringify(exit)}) before logging ${pattern}:\n${tail(text)}`)),
          );
      };
      const timer = setTimeout(
        () => done(() => reject(new Error(`worker ${child.pid} did not log ${pattern} within ${timeoutMs} ms:\n${tail(text)}`))),
        timeoutMs,
      );
      const done = (settle: () => void) => {
        clearTimeout(timer);
        listeners.delete(check);
        settle();
      };
      listeners.add(check);
      check();
    });

  return {
    pid: child.pid ?? -1,
    output: () => text,
    exited,
    ready: (timeoutMs = 30_000) => waitForLog(/"msg":"worker started"/, timeoutMs).then(() => undefined),
    waitForLog,
    async kill() {
      if (!exit) child.kill("SIGKILL");
      return exited;
    },
  };
}

/** Kills every worker process this test file started that is still running. */
export async function killAllWorkers(): Promise<void> {
  await Promise.all(
    [...live].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once("exit", () => resolve());
          child.kill("SIGKILL");
        }),
    ),
  );
}

export const tail = (text: string, lines = 40): string => text.trimEnd().split("\n").slice(-lines).join("\n");
