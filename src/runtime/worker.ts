// Composition root of the settlement worker: the only process that loads relayer keys.
import { Worker } from "bullmq";
import { Redis } from "ioredis";
import type { Logger } from "pino";
import type { Config } from "../config/config.js";
import { connectDatabase } from "../db/client.js";
import { createSettlementsRepo } from "../db/settlements-repo.js";
import { createSettlementQueue, SETTLEMENT_QUEUE, type SettlementJob } from "../queue/settlement-queue.js";
import { startReconciler } from "../worker/reconciler.js";
import { loadRelayerKeys } from "../worker/relayer-keys.js";
import { createSettler } from "../worker/settler.js";
import { assertChainIds, createChains } from "./chains.js";

export interface WorkerOptions {
  concurrency?: number;
  reconcileIntervalMs?: number;
  receiptTimeoutMs?: number;
  pollingMs?: number;
}

export async function startWorker(config: Config, logger: Logger, opts: WorkerOptions = {}): Promise<{ close(): Promise<void> }> {
  const relayers = loadRelayerKeys(config.relayerKeySource);
  await assertChainIds(config.networks);
  const chains = createChains(config.networks);
  const database = connectDatabase(config.databaseUrl);
  const repo = createSettlementsRepo(database.db);

  for (const net of config.networks) {
    for (const r of relayers) {
      const onChain = await chains.clientFor(net.chainId).getTransactionCount({ address: r.address, blockTag: "pending" });
      const next = await repo.registerRelayer(net.chainId, r.address, BigInt(onChain));
      logger.info({ network: net.name, relayer: r.address, nextNonce: next.toString() }, "relayer ready");
    }
  }

  const settle = createSettler({
    repo,
    networks: config.networks,
    clientFor: chains.clientFor,
    relayers,
    logger,
    faultPoint: config.faultPoint,
    receiptTimeoutMs: opts.receiptTimeoutMs,
    pollingMs: opts.pollingMs,
  });

  const connection = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
  connection.on("error", (err) => logger.warn({ err }, "redis connection error"));
  const queue = createSettlementQueue(connection, config.queuePrefix);
  const worker = new Worker<SettlementJob>(
    SETTLEMENT_QUEUE,
    async (job) => {
      const state = await settle(job.data.id);
      return { state };
    },
    { connection: connection.duplicate(), prefix: config.queuePrefix, concurrency: opts.concurrency ?? 64, lockDuration: 120_000 },
  );
  worker.on("failed", (job, err) => logger.warn({ settlementId: job?.id, err }, "settlement job failed; the reconciler retries it"));
  worker.on("error", (err) => logger.warn({ err }, "worker error"));

  const reconciler = startReconciler({ repo, queue, logger, intervalMs: opts.reconcileIntervalMs ?? 5_000 });
  // At start: pick up whatever a previous run left open (crash, lost jobs, flushed Redis).
  await reconciler.sweep().catch((err: unknown) => logger.warn({ err }, "initial reconciler sweep failed"));
  logger.info({ relayers: relayers.map((r) => r.address), networks: config.networks.map((n) => n.name) }, "worker started");

  return {
    async close() {
      reconciler.stop();
      await worker.close();
      await queue.close();
      connection.disconnect();
      await database.close();
    },
  };
}
