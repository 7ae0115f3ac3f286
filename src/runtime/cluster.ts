// Several api processes on one port (node:cluster): the api is stateless (the ledger and the
// queue are shared), so replicas on one host use every core. The primary only forks, restarts
// a replica that dies, and passes shutdown signals on.
import cluster from "node:cluster";
import type { Logger } from "pino";

export function runReplicas(count: number, logger: Logger): void {
  let stopping = false;
  const fork = () =>
    cluster.fork().on("exit", (code, signal) => {
      if (stopping) return;
      logger.error({ code, signal }, "api process died; starting another");
      setTimeout(fork, 1_000).unref();
    });
  for (let i = 0; i < count; i++) fork();
  const stop = (signal: NodeJS.Signals) => {
    stopping = true;
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill(signal);
    const timer = setTimeout(() => process.exit(1), 12_000).unref();
    cluster.on("exit", () => {
      if (Object.keys(cluster.workers ?? {}).length === 0) {
        clearTimeout(timer);
        process.exit(0);
      }
    });
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
}

export const isReplicaPrimary = (count: number) => count > 1 && cluster.isPrimary;
