// buildApp wires routes onto a Fastify instance and never listens, so tests can inject
// dependencies and requests. main.ts owns listening and shutdown.
import Fastify, { LogController, type FastifyInstance } from "fastify";
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { createKeyRing, createPolicyRing, requireKey } from "./http/auth.js";
import type { KeyEntry } from "./policy/api-keys.js";
import type { Guard } from "./policy/guard.js";
import { registerRateLimit, type RateLimitDeps } from "./policy/rate-limit.js";
import { installErrorHandler } from "./http/error-handler.js";
import { healthRoute, type ReadinessCheck } from "./http/routes/health.js";
import { metricsRoute } from "./http/routes/metrics.js";
import { registerOpenApi } from "./http/openapi/plugin.js";
import { APP_VERSION } from "./version.js";
import { webhooksRoute } from "./http/routes/webhooks.js";
import { discoveryAdminRoute, discoveryRoute } from "./http/routes/discovery.js";
import type { CatalogStore } from "./discovery/catalog-store.js";
import type { SettlementRow } from "./db/settlements-repo.js";
import { keysRoute } from "./http/routes/keys.js";
import { dashboardRoute } from "./http/dashboard/dashboard-route.js";
import type { OperatorReads } from "./http/dashboard/operator-reads.js";
import { operatorRoute } from "./http/dashboard/operator-routes.js";
import type { WebhookStore } from "./webhooks/store.js";
import { supportedRoute } from "./http/routes/supported.js";
import { settleRoute } from "./http/routes/settle.js";
import { settlementsRoute } from "./http/routes/settlements.js";
import { verifyRoute } from "./http/routes/verify.js";
import type { SettlementQueries } from "./db/settlement-queries.js";
import type { NetworkLookup } from "./config/config.js";
import type { SettleService } from "./settle/settle-service.js";
import type { SupportedKind, Verifier } from "./schemes/scheme.js";
import type { PayloadSchemaFor } from "./x402/wire.js";
import type { Registry } from "prom-client";
import type { ApiMetrics } from "./metrics/api.js";

/** Large enough for any real payment (a wrapped smart-wallet signature included), small enough to shrug off floods. */
export const BODY_LIMIT_BYTES = 16 * 1024;

export interface AppDeps {
  logger: Logger;
  /** What /supported lists: every enabled method's kinds on every enabled network. */
  kinds(): Promise<SupportedKind[]>;
  extensions: string[];
  /** Each payment method reads its own payload. */
  payloadSchemaFor: PayloadSchemaFor;
  verifier: Verifier;
  settle: SettleService;
  queries: SettlementQueries;
  chains: NetworkLookup;
  /** Every API key with its policy (digests only); none: /verify and /settle are open. */
  apiKeys: readonly KeyEntry[];
  /** Wei each API key has spent on gas today (UTC), for GET /keys. */
  gasSpentToday?: () => Promise<Map<string, bigint>>;
  /** Policy, budgets and screening, checked before any RPC. */
  guard?: Guard;
  /** Rate limits, counted in Redis across api processes. */
  rateLimit?: Omit<RateLimitDeps, "keys">;
  /** Operator endpoints are mounted only when a key guards them. */
  adminApiKey?: string;
  relayerAddresses(): Promise<string[]>;
  /** Solana fee payers the workers hold (empty when no cluster is enabled). */
  feePayers?(): Promise<string[]>;
  /** The Bazaar catalog (discovery on): listed at /discovery/*, fed by the settle service. */
  discovery?: { store: CatalogStore };
  /** payment-identifier lookups for /verify (/settle does its own through the settle service). */
  findByPaymentId?: (payer: string, id: string) => Promise<SettlementRow | undefined>;
  readiness: Record<string, ReadinessCheck>;
  /** Serve the API under this path (e.g. /facilitator); health probes stay at the root too. */
  basePath?: string;
  /** Whose X-Forwarded-* headers to believe (TRUST_PROXY). */
  trustProxy?: boolean | number | string;
  /** The webhook endpoints the admin API manages. */
  webhooks?: { store: WebhookStore; allowPrivate: boolean };
  /** Relayer lanes, outcome counts, backlog and webhook health: admin JSON and the /dashboard page. */
  operator?: OperatorReads;
  /** Prometheus metrics: recorded by the routes, served at GET /metrics. */
  metrics?: { registry: Registry; api: ApiMetrics; apiKey?: string };
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    loggerInstance: deps.logger,
    bodyLimit: BODY_LIMIT_BYTES,
    onProtoPoisoning: "error",
    onConstructorPoisoning: "error",
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers["x-request-id"];
      return typeof given === "string" && REQUEST_ID.test(given) ? given : randomUUID();
    },
    // Per-request lines come from the onResponse hook below, at debug level.
    logController: new LogController({ disableRequestLogging: true }),
    routerOptions: { ignoreTrailingSlash: true },
    // A hop count trusts that many proxies nearest to us.
    trustProxy:
      typeof deps.trustProxy === "number" ? (_addr: string, hop: number) => hop < (deps.trustProxy as number) : (deps.trustProxy ?? false),
  }) as unknown as FastifyInstance;
  installErrorHandler(app);
  // Only hooked in when it would print: an extra async hook per request costs at full load.
  if (deps.logger.isLevelEnabled("debug")) {
    app.addHook("onResponse", async (req, reply) => {
      req.log.debug({ method: req.method, url: req.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, "request");
    });
  }

  await registerOpenApi(app, { basePath: deps.basePath, version: APP_VERSION });
  const keyRing = deps.apiKeys.length ? createPolicyRing(deps.apiKeys) : undefined;
  const auth = keyRing ? requireKey(keyRing, "x402-facilitator") : undefined;
  if (deps.rateLimit) await registerRateLimit(app, { ...deps.rateLimit, keys: keyRing });
  const api = async (scope: FastifyInstance) => {
    const metrics = deps.metrics?.api;
    const guard = deps.guard;
    await scope.register(verifyRoute, {
      verifier: deps.verifier,
      payloadSchemaFor: deps.payloadSchemaFor,
      auth,
      metrics,
      guard,
      findByPaymentId: deps.findByPaymentId,
    });
    await scope.register(settleRoute, { settle: deps.settle, payloadSchemaFor: deps.payloadSchemaFor, auth, metrics, guard });
    // Public, like /supported: agents browse the catalog without a key.
    if (deps.discovery) await scope.register(discoveryRoute, { store: deps.discovery.store });
    if (deps.metrics) {
      const { registry, apiKey } = deps.metrics;
      await scope.register(metricsRoute, {
        registry,
        auth: apiKey ? requireKey(createKeyRing([apiKey]), "x402-facilitator-metrics") : undefined,
      });
    }
    if (deps.adminApiKey) {
      const admin = requireKey(createKeyRing([deps.adminApiKey]), "x402-facilitator-admin");
      await scope.register(settlementsRoute, { queries: deps.queries, networks: deps.chains, auth: admin });
      if (deps.gasSpentToday)
        await scope.register(keysRoute, { policies: deps.apiKeys.map((k) => k.policy), gasSpentToday: deps.gasSpentToday, auth: admin });
      if (deps.webhooks) await scope.register(webhooksRoute, { ...deps.webhooks, auth: admin });
      if (deps.discovery) await scope.register(discoveryAdminRoute, { store: deps.discovery.store, auth: admin });
      if (deps.operator) {
        const reads = deps.operator;
        await scope.register(operatorRoute, { reads, auth: admin });
        const base = `${deps.basePath ?? ""}/dashboard`;
        await scope.register(dashboardRoute, { prefix: "/dashboard", base, adminApiKey: deps.adminApiKey, queries: deps.queries, reads });
      }
    }
    await scope.register(supportedRoute, {
      kinds: deps.kinds,
      extensions: deps.extensions,
      relayerAddresses: deps.relayerAddresses,
      feePayers: deps.feePayers,
    });
    await scope.register(healthRoute, { readiness: deps.readiness });
  };
  await app.register(api, { prefix: deps.basePath ?? "" });
  if (deps.basePath) await app.register(healthRoute, { readiness: deps.readiness });
  return app;
}
