// Entry point: `main.ts migrate|api|worker|all`. Configuration problems end the process with
// one line naming the variable; SIGINT/SIGTERM close servers and connections before exiting.
import { ConfigError, loadConfig } from "./config/config.js";
import { connectDatabase } from "./db/client.js";
import { migrate } from "./db/migrate.js";
import { createLogger, scrubUrls } from "./logger.js";
import { startApi } from "./runtime/api.js";
import { isReplicaPrimary, runReplicas } from "./runtime/cluster.js";

const MODES = ["migrate", "api", "worker", "all"] as const;
type Mode = (typeof MODES)[number];

async function run(mode: Mode): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  if (mode === "migrate") {
    const database = connectDatabase(config.databaseUrl, { max: 1 });
    try {
      const applied = await migrate(database.sql);
      logger.info({ applied }, applied.length ? "migrations applied" : "schema up to date");
    } finally {
      await database.close();
    }
    return;
  }
  if (mode === "api" && isReplicaPrimary(config.apiProcesses)) {
    runReplicas(config.apiProcesses, logger);
    return;
  }
  const closers: Array<() => Promise<void>> = [];
  if (mode === "api" || mode === "all") closers.push((await startApi(config, logger)).close);
  if (mode === "worker" || mode === "all") {
    const { startWorker } = await import("./runtime/worker.js");
    closers.push((await startWorker(config, logger)).close);
  }
  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, "shutting down");
    const timer = setTimeout(() => {
      logger.error("shutdown took over 10 s: exiting anyway");
      process.exit(1);
    }, 10_000).unref();
    const results = await Promise.allSettled(closers.map((c) => c()));
    clearTimeout(timer);
    const failed = results.flatMap((r) => (r.status === "rejected" ? [r.reason] : []));
    for (const err of failed) logger.error({ err }, "shutdown step failed");
    logger.info({ clean: failed.length === 0 }, "stopped");
    process.exit(failed.length ? 1 : 0);
  };
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
}

const mode = process.argv[2] as Mode;
if (!MODES.includes(mode)) {
  console.error(`usage: main.ts ${MODES.join("|")}`);
  process.exit(2);
}
run(mode).catch((err: unknown) => {
  if (err instanceof ConfigError) {
    console.error(`config error: ${err.message}`);
  } else {
    console.error(`fatal: ${scrubUrls(err instanceof Error ? err.message : String(err))}`);
  }
  process.exit(1);
});
