// Composition root of the HTTP api: config in, a listening Fastify instance out.
import type { FastifyInstance } from "fastify";
import { Redis } from "ioredis";
import type { Logger } from "pino";
import { buildApp } from "../app.js";
import type { Config } from "../config/config.js";
import { connectDatabase } from "../db/client.js";
import { batchLookups, createLedger } from "../db/ledger.js";
import { createSettlementsRepo } from "../db/settlements-repo.js";
import { groupCommit } from "../db/group-commit.js";
import { createSettlementQueries } from "../db/settlement-queries.js";
import { createSettlementQueue } from "../queue/settlement-queue.js";
import { createSettleService } from "../settle/settle-service.js";
import { createSettlementWaiter } from "../settle/waiter.js";
import { paymentMethods } from "../schemes/methods.js";
import { createVerifier } from "../verify/verifier.js";
import { createRecoveryThreads } from "../evm/recovery-threads.js";
import type { ReadinessCheck } from "../http/routes/health.js";
import { assertChainIds, createChains, relayerGas } from "./chains.js";
import { recent } from "./recent.js";
import { createFailureBudget } from "../policy/failure-budget.js";
import { createGasMeter } from "../policy/gas-budget.js";
import { createGuard } from "../policy/guard.js";
import { createScreening } from "../policy/screening.js";
import { collectDefaultMetrics, Registry } from "prom-client";
import { apiMetrics } from "../metrics/api.js";
import { rpcMetrics } from "../metrics/rpc.js";
import { createWebhookStore } from "../webhooks/store.js";
import { createOperatorReads } from "../http/dashboard/operator-reads.js";
import { createFeePayerRegistry } from "../db/fee-payers.js";
import { loadSvm } from "../svm/load.js";
import { createCatalogStore } from "../discovery/catalog-store.js";
import { createCatalogWriter } from "../discovery/catalog-writer.js";

/** How stale the api's list of relayer keys may be (a new worker's keys show up this late). */
const RELAYER_LIST_TTL_MS = 5_000;
/** How stale the keys' gas spent today may be in GET /keys and the metrics (budgets read it fresh). */
const GAS_SPENT_TTL_MS = 2_000;

export interface Api {
  app: FastifyInstance;
  close(): Promise<void>;
}

export interface RunningApi {
  url: string;
  close(): Promise<void>;
}

/** Everything the api needs, built and checked, but not listening. */
export async function createApi(config: Config, logger: Logger): Promise<Api> {
  await assertChainIds(config.networks, (msg) => logger.warn(msg));
  const svm = await loadSvm(config.svmNetworks.length > 0);
  await svm?.assertSvmClusters(config.svmNetworks, (msg) => logger.warn(msg));
  const database = connectDatabase(config.databaseUrl);
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: null, lazyConnect: true });
  redis.on("error", (err) => logger.warn({ err }, "redis connection error"));
  await redis.connect().catch((err) => logger.warn({ err }, "redis not reachable at start"));
  const ledger = createLedger(database.db, database.sql);
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "x402_api_" });
  const chains = createChains(config.networks, {
    observe: rpcMetrics(registry),
    svmNetworks: config.svmNetworks,
    svmRpc: svm?.createSvmRpc,
  });
  const recovery = createRecoveryThreads(config.recoveryThreads, {
    onThreadLost: (err) => logger.error({ err }, "signature recovery thread lost"),
  });
  const methods = paymentMethods(svm ? [svm.svmExact] : []);
  // Workers record their keys in the ledger as they start; an operator may also name them.
  const relayerAddresses = config.relayerAddresses.length
    ? async () => config.relayerAddresses
    : recent(ledger.relayerAddresses, RELAYER_LIST_TTL_MS);
  const feePayerRegistry = createFeePayerRegistry(database.db);
  const feePayers = recent(() => feePayerRegistry.addresses(), RELAYER_LIST_TTL_MS);
  const verifier = createVerifier({
    networks: chains,
    clientFor: chains.clientFor,
    isClaimed: ledger.isClaimed,
    recovery,
    methods,
    relayerAddresses,
    svm: config.svmNetworks.length ? { rpcFor: chains.svmRpcFor, feePayers } : undefined,
  });
  const repo = createSettlementsRepo(database.db);
  const queue = createSettlementQueue(redis, config.queuePrefix);
  const gasMeter = createGasMeter(database.db);
  const gasToday = recent(gasMeter.today, GAS_SPENT_TTL_MS);
  const screening = createScreening({ ...config.screening, logger });
  const guard = createGuard({
    networks: chains,
    methods,
    logger,
    failures: config.payerFailureBudget
      ? createFailureBudget(redis, { budget: config.payerFailureBudget, prefix: config.queuePrefix })
      : undefined,
    screening,
    gasSpentToday: gasMeter.spentToday,
  });
  const waiter = createSettlementWaiter(database.sql);
  // Concurrent /settle requests share their ledger work: lookups made in one event-loop turn go
  // as one query, and claims arriving while one is being committed go in the next commit.
  const settleRepo = {
    claim: groupCommit(repo.claimMany),
    findByKey: batchLookups(repo.findByKeys),
    findById: batchLookups(repo.findMany),
    takeSuccessAnswer: batchLookups(repo.takeSuccessAnswers),
    findByPaymentId: repo.findByPaymentId,
  };
  const catalogStore = config.discovery.enabled ? createCatalogStore(database.db, { maxAgeDays: config.discovery.maxAgeDays }) : undefined;
  const catalogWriter = catalogStore ? createCatalogWriter(catalogStore, logger) : undefined;
  const settle = createSettleService({
    onPaid: catalogWriter ? (req, apiKeyId) => catalogWriter.record(req, apiKeyId) : undefined,
    networks: chains,
    methods,
    verifier,
    repo: settleRepo,
    waiter,
    enqueue: (id) => queue.enqueue(id),
    queueReady: () => redis.status === "ready",
    settleWaitMs: config.settleWaitMs,
    settleMaxWaitMs: config.settleMaxWaitMs,
    logger,
    guard,
  });

  const readiness: Record<string, ReadinessCheck> = {
    postgres: ledger.ping,
    redis: async () => {
      // Commands wait in the client's offline queue while it reconnects: ask its state first.
      if (redis.status !== "ready") throw new Error(`not connected (${redis.status})`);
      if ((await redis.ping()) !== "PONG") throw new Error("unexpected PING answer");
    },
  };
  for (const n of config.networks) {
    readiness[`rpc:${n.name}`] = async () => {
      await chains.clientFor(n.chainId).getBlockNumber({ cacheTime: 0 });
    };
    readiness[`relayers:${n.name}`] = async () => relayerGas(chains.clientFor(n.chainId), n, await relayerAddresses());
  }
  for (const n of config.svmNetworks) {
    readiness[`rpc:${n.name}`] = async () => {
      await chains.svmRpcFor(n).getSlot().send();
    };
    readiness[`feepayers:${n.name}`] = async () => svm!.feePayerFunds(chains.svmRpcFor(n), n, await feePayers());
  }

  const queries = createSettlementQueries(database.db);
  const webhookStore = createWebhookStore(database.db);
  const app = await buildApp({
    logger,
    kinds: async () =>
      methods.kinds({
        networks: config.networks,
        relayers: config.networks.length ? await relayerAddresses() : [],
        svmNetworks: config.svmNetworks,
        feePayers: config.svmNetworks.length ? await feePayers() : [],
      }),
    // bazaar only while the catalog is kept; payment-identifier always (the ledger honours it).
    extensions: [...methods.extensions(), ...(catalogStore ? ["bazaar"] : []), "payment-identifier"],
    discovery: catalogStore ? { store: catalogStore } : undefined,
    findByPaymentId: repo.findByPaymentId,
    payloadSchemaFor: methods.payloadSchemaFor,
    verifier,
    settle,
    queries,
    webhooks: { store: webhookStore, allowPrivate: config.webhook.allowPrivate },
    metrics: {
      registry,
      apiKey: config.metricsApiKey,
      api: apiMetrics(registry, {
        networks: chains,
        schemes: methods.schemes(),
        stateCounts: queries.stateCounts,
        oldestOpenSince: queries.oldestOpenSince,
        queueCounts: queue.counts,
        oldestUndeliveredSince: webhookStore.oldestPendingSince,
        keyGasToday: gasToday,
      }),
    },
    operator: createOperatorReads({
      db: database.db,
      networks: config.networks,
      clientFor: chains.clientFor,
      // Commands wait in the client's offline queue while it reconnects: do not wait on them.
      queueCounts: () => (redis.status === "ready" ? queue.counts() : Promise.reject(new Error(`redis not connected (${redis.status})`))),
      webhooks: webhookStore,
    }),
    chains,
    adminApiKey: config.adminApiKey,
    apiKeys: config.apiKeyEntries,
    guard,
    gasSpentToday: gasToday,
    rateLimit:
      config.rateLimit || config.apiKeyEntries.some((k) => k.policy.rateLimit)
        ? { redis, prefix: config.queuePrefix, defaults: config.rateLimit }
        : undefined,
    relayerAddresses,
    feePayers: config.svmNetworks.length ? feePayers : async () => [],
    readiness,
    basePath: config.basePath,
    trustProxy: config.trustProxy,
  });
  return {
    app,
    async close() {
      // Waiting /settle requests answer from their row now (pending, with its hash), so the
      // server can finish every request it took before it closes.
      waiter.drain();
      // A keep-alive connection that goes idle after close() began would hold it open until
      // its timeout: close each one as soon as its last answer is out.
      const idleSweep = setInterval(() => app.server.closeIdleConnections(), 100);
      await app.close().finally(() => clearInterval(idleSweep));
      await recovery.close();
      await catalogWriter?.close();
      screening?.close();
      await queue.close();
      redis.disconnect();
      await database.close();
    },
  };
}

export async function startApi(config: Config, logger: Logger): Promise<RunningApi> {
  const api = await createApi(config, logger);
  const url = await api.app.listen({ port: config.port, host: config.host });
  logger.info({ url, networks: config.networks.map((n) => n.name) }, "api listening");
  return { url, close: api.close };
}
