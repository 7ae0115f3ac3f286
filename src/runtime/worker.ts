// Composition root of the settlement worker: the only process that loads relayer keys.
import { Worker } from "bullmq";
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import type { Logger } from "pino";
import type { Config } from "../config/config.js";
import { connectDatabase } from "../db/client.js";
import { createRelayerLanes } from "../db/relayer-lanes.js";
import { groupCommit } from "../db/group-commit.js";
import { batchLookups } from "../db/ledger.js";
import { createSettlementsRepo } from "../db/settlements-repo.js";
import { paymentMethods } from "../schemes/methods.js";
import { createSettlementQueue, SETTLEMENT_QUEUE, type SettlementJob } from "../queue/settlement-queue.js";
import { createBlockClock, type BlockClock } from "../worker/block-clock.js";
import { createChainWatch, type ChainWatch } from "../worker/chain-watch.js";
import { startReconciler } from "../worker/reconciler.js";
import { auditConfirmed } from "../worker/reorg-audit.js";
import { loadRelayerKeys } from "../worker/relayer-keys.js";
import { createRelayerPool } from "../worker/relayer-pool.js";
import { createSettler, NoRelayerError } from "../worker/settler.js";
import { createSettlementRuns } from "../worker/wakeups.js";
import { assertChainIds, createChains } from "./chains.js";
import { collectDefaultMetrics, Registry } from "prom-client";
import { rpcMetrics } from "../metrics/rpc.js";
import { serveMetrics } from "../metrics/server.js";
import { workerMetrics } from "../metrics/worker.js";
import { startWebhookDispatcher } from "../webhooks/dispatcher.js";
import { createGasMeter } from "../policy/gas-budget.js";
import { createWebhookStore } from "../webhooks/store.js";
import { targetProblem } from "../webhooks/targets.js";
import { ConfigError } from "../config/config.js";
import { createFeePayerRegistry } from "../db/fee-payers.js";
import { loadSvm } from "../svm/load.js";

/** How often a worker tells the ledger it still holds its fee payers. */
const FEE_PAYER_REFRESH_MS = 5 * 60_000;

export interface WorkerOptions {
  concurrency?: number;
  reconcileIntervalMs?: number;
  receiptTimeoutMs?: number;
  pollingMs?: number;
  /** How often leases, balances and nonce gaps are checked. */
  laneIntervalMs?: number;
  /** How often recently confirmed settlements are checked for deep reorgs. */
  auditIntervalMs?: number;
  /** How often owed webhook deliveries are looked for. */
  webhookSweepMs?: number;
  /** Tests: a shorter retry schedule than Standard Webhooks' hours. */
  webhookRetryDelaysMs?: readonly number[];
  /** False: settlements come by BullMQ only, not also on the api's NOTIFY (tests of the queue). */
  fastPickup?: boolean;
}

export interface RunningWorker {
  /** Where its /metrics listens, when it does. */
  metricsPort?: number;
  close(): Promise<void>;
}

export async function startWorker(config: Config, logger: Logger, opts: WorkerOptions = {}): Promise<RunningWorker> {
  // A worker for Solana alone needs no EVM relayer key, and the reverse.
  const accounts = config.networks.length || !config.svmNetworks.length ? loadRelayerKeys(config.relayerKeySource) : [];
  const svm = await loadSvm(config.svmNetworks.length > 0);
  const feePayers = svm ? svm.loadFeePayerKeys(config.feePayerKeySource) : [];
  if (config.svmNetworks.length && !feePayers.length)
    throw new ConfigError(
      "SOLANA_FEE_PAYER_KEY",
      "is required by the worker when a Solana cluster is enabled (or set SOLANA_FEE_PAYER_KEY_FILE)",
    );
  await assertChainIds(config.networks, (msg) => logger.warn(msg));
  await svm?.assertSvmClusters(config.svmNetworks, (msg) => logger.warn(msg));
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "x402_worker_" });
  const metrics = workerMetrics(registry);
  const chains = createChains(config.networks, {
    observe: rpcMetrics(registry),
    svmNetworks: config.svmNetworks,
    svmRpc: svm?.createSvmRpc,
  });
  const database = connectDatabase(config.databaseUrl);
  const ledger = createSettlementsRepo(database.db);
  // Every transition the worker makes goes through group commit: concurrent settlements moving
  // at once share one transaction.
  const repo = {
    ...ledger,
    transition: groupCommit(ledger.transitionMany),
    findById: batchLookups((ids: string[]) => ledger.findMany(ids)),
  };
  const lanes = createRelayerLanes(database.db);
  const gasMeter = createGasMeter(database.db);
  // The receipts of a block are charged together, in one commit.
  const chargeTogether = groupCommit(gasMeter.chargeMany);
  const owner = `worker-${randomUUID()}`;
  const pollingMs = opts.pollingMs ?? config.blockPollMs;

  for (const net of config.networks) {
    for (const a of accounts) {
      const onChain = await chains.clientFor(net.chainId).getTransactionCount({ address: a.address, blockTag: "pending" });
      await lanes.register(net.chainId, a.address, BigInt(onChain));
    }
  }
  const pool = createRelayerPool({ lanes, networks: config.networks, clientFor: chains.clientFor, accounts, owner, logger, metrics });
  await pool.refresh();
  logger.info({ owner, lanes: pool.status() }, "relayer lanes");
  let refreshing: Promise<void> = Promise.resolve();
  const laneTimer = setInterval(() => {
    refreshing = pool.refresh().catch((err: unknown) => logger.warn({ err }, "relayer refresh failed"));
  }, opts.laneIntervalMs ?? 5_000);
  laneTimer.unref();

  const feePayerRegistry = createFeePayerRegistry(database.db);
  const registerFeePayers = () =>
    Promise.all(
      config.svmNetworks.map((n) =>
        feePayerRegistry.register(
          n.caip2,
          feePayers.map((f) => f.address),
        ),
      ),
    );
  await registerFeePayers();
  const feePayerTimer = setInterval(() => {
    registerFeePayers().catch((err: unknown) => logger.warn({ err }, "fee payer refresh failed"));
  }, FEE_PAYER_REFRESH_MS);
  feePayerTimer.unref();

  let stopping = false;
  const clocks = new Map<number, BlockClock>(
    config.networks.map((n) => [n.chainId, createBlockClock(chains.clientFor(n.chainId), pollingMs)]),
  );
  const watches = new Map<number, ChainWatch>(
    config.networks.map((n) => [n.chainId, createChainWatch(chains.clientFor(n.chainId), clocks.get(n.chainId)!)]),
  );
  const settle = createSettler({
    repo,
    methods: paymentMethods(svm ? [svm.svmExact] : []),
    networks: config.networks,
    clientFor: chains.clientFor,
    pool,
    owner,
    clockFor: (chainId) => clocks.get(chainId)!,
    watchFor: (chainId) => watches.get(chainId)!,
    logger,
    faultPoint: config.faultPoint,
    batchMax: config.settleBatchMax,
    stopping: () => stopping,
    receiptTimeoutMs: opts.receiptTimeoutMs,
    metrics,
    gasMeter: { charge: (txHash, wei) => chargeTogether({ txHash, wei }) },
    svmStep: svm
      ? svm.createSvmSettler({
          repo,
          networkOf: (chainId) => config.svmNetworks.find((n) => n.ledgerChainId === chainId),
          rpcFor: chains.svmRpcFor,
          feePayers: new Map(feePayers.map((f) => [f.address, f])),
          logger,
          fault: (point) => {
            if (config.faultPoint === point) {
              logger.warn({ point }, "fault point reached: killing the worker");
              process.kill(process.pid, "SIGKILL");
            }
          },
          stopping: () => stopping,
          metrics,
        })
      : undefined,
  });

  const connection = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
  connection.on("error", (err) => logger.warn({ err }, "redis connection error"));
  const queue = createSettlementQueue(connection, config.queuePrefix);
  const workerConnection = connection.duplicate();
  workerConnection.on("error", (err) => logger.warn({ err }, "redis connection error"));
  const concurrency = opts.concurrency ?? config.workerConcurrency;
  const runs = createSettlementRuns({
    advance: settle,
    sql: database.sql,
    redis: connection,
    prefix: config.queuePrefix,
    owner,
    maxInFlight: concurrency,
    fast: opts.fastPickup,
    logger,
  });
  const worker = new Worker<SettlementJob>(
    SETTLEMENT_QUEUE,
    async (job) => {
      logger.debug({ settlementId: job.data.id, waitedMs: Date.now() - job.timestamp }, "job started");
      const state = await runs.fromQueue(job.data.id);
      return { state };
    },
    // A short lock (renewed while the job runs) lets a restarted worker take over a crashed
    // one's jobs within seconds instead of minutes.
    {
      connection: workerConnection,
      prefix: config.queuePrefix,
      concurrency,
      lockDuration: 10_000,
      stalledInterval: 5_000,
    },
  );
  worker.on("failed", (job, err) => {
    const level = err instanceof NoRelayerError || (svm && err instanceof svm.NoFeePayerError) ? "debug" : "warn";
    logger[level]({ settlementId: job?.id, err }, "settlement job failed; it is retried");
  });
  worker.on("error", (err) => logger.warn({ err }, "worker error"));

  const reconciler = startReconciler({ repo, queue, logger, intervalMs: opts.reconcileIntervalMs ?? 5_000 });
  const auditTimer = setInterval(() => {
    auditConfirmed({ repo, clientFor: chains.clientFor, logger, windowMs: 15 * 60_000 }).catch((err: unknown) =>
      logger.warn({ err }, "reorg audit failed"),
    );
  }, opts.auditIntervalMs ?? 10_000);
  auditTimer.unref();
  // At start: pick up whatever a previous run left open (crash, lost jobs, flushed Redis).
  // Listening first: a settlement claimed during the sweep is heard.
  await runs.listen().catch((err: unknown) => logger.warn({ err }, "not listening for new settlements; BullMQ brings them"));
  await reconciler.sweep().catch((err: unknown) => logger.warn({ err }, "initial reconciler sweep failed"));

  const webhookStore = createWebhookStore(database.db);
  await webhookStore.syncEnvEndpoint(config.webhook.url, config.webhook.secret);
  if (config.webhook.url) {
    const problem = await targetProblem(config.webhook.url, config.webhook.allowPrivate);
    if (problem) logger.error({ problem }, "WEBHOOK_URL cannot receive deliveries");
  }
  const webhooks = startWebhookDispatcher({
    store: webhookStore,
    connection,
    prefix: config.queuePrefix,
    logger,
    allowPrivate: config.webhook.allowPrivate,
    sweepMs: opts.webhookSweepMs,
    retryDelaysMs: opts.webhookRetryDelaysMs,
    onResult: metrics.webhook,
    beforeSend: () => {
      if (config.faultPoint === "before_webhook_delivery") {
        logger.warn({ point: config.faultPoint }, "fault point reached: killing the worker");
        process.kill(process.pid, "SIGKILL");
      }
    },
  });
  const metricsServer = config.workerMetricsPort
    ? await serveMetrics(registry, { port: config.workerMetricsPort, host: config.host, apiKey: config.metricsApiKey, logger })
    : undefined;
  logger.info(
    {
      relayers: accounts.map((r) => r.address),
      feePayers: feePayers.map((f) => f.address),
      networks: [...config.networks, ...config.svmNetworks].map((n) => n.name),
    },
    "worker started",
  );

  return {
    metricsPort: metricsServer?.port,
    async close() {
      stopping = true;
      await metricsServer?.close();
      await webhooks.close();
      reconciler.stop();
      clearInterval(auditTimer);
      clearInterval(laneTimer);
      clearInterval(feePayerTimer);
      await refreshing;
      for (const w of watches.values()) w.stop();
      for (const c of clocks.values()) c.stop();
      await runs.close();
      await worker.close();
      await queue.close();
      await pool.leave().catch(() => undefined);
      workerConnection.disconnect();
      connection.disconnect();
      await database.close();
    },
  };
}
