// The facilitator's processes as real OS processes (`main.ts worker`, `main.ts api`), for tests
// that kill them or take their dependencies away and check they are still running. Each runs as
// `node --import tsx src/main.ts <mode>`, which is what `tsx src/main.ts <mode>` does minus the
// tsx wrapper process: the pid we hold is the process itself, so a SIGKILL it sends itself shows
// up as signal SIGKILL here, and killing it leaves no grandchild behind.
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const KEEP_CHARS = 400_000;

export interface WorkerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface FacilitatorProcess {
  pid: number;
  /** Whether it is still running (neither exited nor killed). */
  alive(): boolean;
  /** Sends a signal (SIGTERM for a graceful stop). */
  signal(sig: NodeJS.Signals): void;
  /** Everything the process wrote (stdout + stderr, most recent ~40 kB): for failure messages. */
  output(): string;
  /** Resolves when the process has exited, with how it ended. */
  exited: Promise<WorkerExit>;
  /** Resolves once it logged that it is up (the worker: its startup sweep is done); rejects if it exits first. */
  ready(timeoutMs?: number): Promise<void>;
  /** Settles when a log line matching `pattern` appears; rejects on exit or timeout. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGKILLs the process (if still alive) and waits for it to be gone. */
  kill(): Promise<WorkerExit>;
}

// Every process still alive when the test process exits is killed synchronously, so a crashed
// or timed-out test run leaves none behind.
const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

export const spawnWorker = (env: Record<string, string>): FacilitatorProcess => spawnMode("worker", env);

const READY: Record<"api" | "worker", RegExp> = { worker: /"msg":"worker started"/, api: /"msg":"api listening"/ };

export function spawnMode(mode: "api" | "worker", env: Record<string, string>): FacilitatorProcess {
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts", mode], {
    cwd: ROOT,
    // The readiness and fault-point checks read the log, so it is always on (info), whatever the caller's env says.
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env, LOG_LEVEL: env.LOG_LEVEL === "debug" ? "debug" : "info" },
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
            reject(new Error(`${mode} ${child.pid} exited (${JSON.stringify(exit)}) before logging ${pattern}:\n${tail(text)}`)),
          );
      };
      const timer = setTimeout(
        () => done(() => reject(new Error(`${mode} ${child.pid} did not log ${pattern} within ${timeoutMs} ms:\n${tail(text)}`))),
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
    alive: () => !exit,
    signal: (sig) => void (exit || child.kill(sig)),
    output: () => text,
    exited,
    ready: (timeoutMs = 30_000) => waitForLog(READY[mode], timeoutMs).then(() => undefined),
    waitForLog,
    async kill() {
      if (!exit) child.kill("SIGKILL");
      return exited;
    },
  };
}

/** Kills every process this test file started that is still running. */
export async function killAllProcesses(): Promise<void> {
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
