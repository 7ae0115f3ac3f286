// The only reader of process.env: every variable is validated once at start, and a bad one
// stops the process with a single line naming it.
import { urlProblem } from "../webhooks/targets.js";
import { loadKeysFile, plainKey, type KeyEntry } from "../policy/api-keys.js";
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { getAddress, isAddress, type Address } from "viem";
import { z } from "zod";
import { resolveSvmNetworks, svmEnvSuffixes, svmNetworksFileSchema, type SvmNetworksFileEntry } from "./solana-config.js";
import type { EnabledSvmNetwork } from "./solana-networks.js";
import { BUILTIN_NETWORKS, envSuffix, NETWORK_DEFAULTS as DEFAULTS, TRANSFER_METHODS, type NetworkDefinition } from "./networks.js";

export interface EnabledNetwork extends NetworkDefinition {
  caip2: `eip155:${number}`;
  rpcUrls: string[];
}

/** Finds an enabled network by the name a request uses for it. */
export interface NetworkLookup {
  byV1Name(name: string): EnabledNetwork | undefined;
  byCaip2(id: string): EnabledNetwork | undefined;
  /** A Solana cluster by its v1 name or CAIP-2 id (absent where no cluster is enabled). */
  svm?(name: string): EnabledSvmNetwork | undefined;
}

export interface Config {
  port: number;
  host: string;
  databaseUrl: string;
  redisUrl: string;
  networks: EnabledNetwork[];
  /** Solana clusters with an RPC URL (RPC_URL_SOLANA, _DEVNET, _TESTNET). */
  svmNetworks: EnabledSvmNetwork[];
  apiKeys: string[];
  /** Every API key (API_KEYS without policy, API_KEYS_FILE with one), kept as digests. */
  apiKeyEntries: KeyEntry[];
  /** Requests per second (and burst) per API key, or per client address when the api is open. */
  rateLimit?: { perSecond: number; burst?: number };
  /** Failed verifies/settles a payer may cause per minute before its requests are refused. */
  payerFailureBudget?: number;
  /** Address screening: a list file and/or an HTTP preflight (fails closed). */
  screening: { file?: string; url?: string; timeoutMs: number };
  adminApiKey?: string;
  settleWaitMs: number;
  settleMaxWaitMs: number;
  /** Path prefix of every endpoint, for installs behind a path-routing proxy. */
  basePath?: string;
  /** Settlements that may share one transaction through Multicall3 (1: batching off). */
  settleBatchMax: number;
  /** Settlements one worker process moves at once (each mostly waits on the chain). */
  workerConcurrency: number;
  /** How often the worker asks each chain for its head: how soon a mined block is noticed. */
  blockPollMs: number;
  /** Api processes sharing the port in `api` mode (node:cluster). */
  apiProcesses: number;
  /** Helper threads per api process for signature recovery (0: on the event loop). */
  recoveryThreads: number;
  logLevel: string;
  /** Relayer addresses announced in /supported; without it they are read from the ledger. */
  relayerAddresses: Address[];
  /** Prefix of every BullMQ key in Redis, so several installs can share one Redis. */
  queuePrefix: string;
  /** Crash-test hook: the worker kills itself with SIGKILL when it reaches this point. */
  faultPoint?: string;
  /** When set, GET /metrics asks for it as a bearer token. */
  metricsApiKey?: string;
  /** Where the worker serves its own /metrics (0: not at all). */
  workerMetricsPort: number;
  /** Which proxies' X-Forwarded-* headers the api believes (client address, https behind TLS termination). */
  trustProxy: boolean | number | string;
  /** The default webhook endpoint (WEBHOOK_URL/SECRET), and whether private targets are allowed. */
  webhook: { url?: string; secret?: string; allowPrivate: boolean };
  /** Loaded only by the worker (see loadRelayerKeys): the api never holds them. */
  relayerKeySource: { inline?: string; file?: string };
  /** The Bazaar catalog: built from payments that declare it, listed at /discovery/*. */
  discovery: { enabled: boolean; maxAgeDays: number };
  /** Solana fee payer keys, loaded only by the worker (see loadFeePayerKeys). */
  feePayerKeySource: { inline?: string; file?: string };
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    detail: string,
  ) {
    super(`${variable}: ${detail}`);
    this.name = "ConfigError";
  }
}

const address = z
  .string()
  .refine((s) => isAddress(s, { strict: false }), "not an address")
  .transform((s) => getAddress(s));
const url = z.string().refine((s) => /^(https?|wss?):\/\/[^\s]+$/.test(s), "not an http(s) or ws(s) URL");
const urlList = z
  .string()
  .transform((s) =>
    s
      .split(",")
      .map((u) => u.trim())
      .filter(Boolean),
  )
  .pipe(z.array(url).min(1));
const list = (s: string | undefined) =>
  (s ?? "")
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean);

const weiString = z
  .string()
  .regex(/^(0|[1-9][0-9]{0,40})$/, "a decimal amount of wei")
  .transform(BigInt);

const assetSchema = z.strictObject({
  address,
  name: z.string().min(1),
  version: z.string().min(1),
  decimals: z.number().int().min(0).max(36),
  symbol: z.string().min(1).default("TOKEN"),
  transferMethods: z.array(z.enum(TRANSFER_METHODS)).min(1).optional(),
});

const networksFileSchema = z.strictObject({
  networks: z.array(
    z.strictObject({
      name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, "lowercase letters, digits and dashes"),
      chainId: z.number().int().positive(),
      v1: z.boolean().optional(),
      rpcUrls: z.array(url).optional(),
      assets: z.array(assetSchema).optional(),
      confirmations: z.number().int().min(0).max(1000).optional(),
      eip6492Factories: z.array(address).optional(),
      maxFeePerGas: weiString.optional(),
      replaceAfterSeconds: z.number().int().min(1).max(3600).optional(),
      minRelayerBalance: weiString.optional(),
      multicallSimulation: z.boolean().optional(),
    }),
  ),
  solana: svmNetworksFileSchema.optional(),
});

const baseSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(4021),
  HOST: z.string().min(1).default("0.0.0.0"),
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL"),
  REDIS_URL: z.string().regex(/^rediss?:\/\//, "must be a redis:// URL"),
  API_KEYS: z.string().optional(),
  ADMIN_API_KEY: z.string().min(16, "at least 16 characters").optional(),
  SETTLE_WAIT_MS: z.coerce.number().int().min(0).max(85_000).default(25_000),
  BASE_PATH: z
    .string()
    .regex(/^(\/[A-Za-z0-9._~-]+)+$/, "a path such as /facilitator (no trailing slash)")
    .optional(),
  SETTLE_BATCH_MAX: z.coerce.number().int().min(1).max(100).default(1),
  WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(10_000).default(1000),
  BLOCK_POLL_MS: z.coerce.number().int().min(50).max(60_000).default(250),
  API_PROCESSES: z.coerce.number().int().min(1).max(64).default(1),
  // One core stays the event loop's; recovery gets what is left, two threads at most.
  RECOVERY_THREADS: z.coerce
    .number()
    .int()
    .min(0)
    .max(64)
    .default(() => Math.max(0, Math.min(2, availableParallelism() - 1))),
  SETTLE_MAX_WAIT_MS: z.coerce.number().int().min(0).max(85_000).default(80_000),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  RELAYER_ADDRESSES: z.string().optional(),
  NETWORKS_FILE: z.string().optional(),
  QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9:_-]{1,64}$/, "letters, digits, ':', '_' or '-'")
    .default("x402"),
  FAULT_POINT: z.enum(["before_sign", "after_signed_commit", "after_broadcast", "before_webhook_delivery"]).optional(),
  WEBHOOK_URL: z
    .string()
    .refine((s) => !urlProblem(s), "must be an http(s) URL without credentials")
    .optional(),
  WEBHOOK_SECRET: z
    .string()
    .regex(/^whsec_[A-Za-z0-9+/]{32,88}={0,2}$/, "must be whsec_ followed by 24 to 64 base64-encoded bytes")
    .optional(),
  WEBHOOK_ALLOW_PRIVATE_URLS: z.enum(["0", "1"]).default("0"),
  API_KEYS_FILE: z.string().optional(),
  RATE_LIMIT_PER_SECOND: z.coerce.number().positive().max(100_000).optional(),
  RATE_LIMIT_BURST: z.coerce.number().int().positive().max(1_000_000).optional(),
  PAYER_FAILURE_BUDGET: z.coerce.number().int().min(1).max(1_000_000).optional(),
  SCREENING_FILE: z.string().optional(),
  SCREENING_URL: z
    .string()
    .refine((s) => /^https?:\/\/[^\s]+$/.test(s), "not an http(s) URL")
    .optional(),
  SCREENING_TIMEOUT_MS: z.coerce.number().int().min(100).max(30_000).default(2_000),
  TRUST_PROXY: z
    .string()
    .regex(/^(true|false|[0-9]{1,2}|[0-9a-fA-F.:/]+(,[0-9a-fA-F.:/]+)*)$/, "true, false, a hop count, or addresses/CIDRs comma-separated")
    .optional(),
  METRICS_API_KEY: z.string().min(16, "at least 16 characters").optional(),
  WORKER_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
  DISCOVERY: z.enum(["0", "1"]).default("1"),
  DISCOVERY_MAX_AGE_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
});

function firstIssue(error: z.ZodError): { path: string; message: string } {
  const issue = error.issues[0]!;
  return { path: issue.path.join("."), message: issue.message };
}

function loadNetworksFile(path: string): z.infer<typeof networksFileSchema> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new ConfigError("NETWORKS_FILE", `cannot read ${path} as JSON (${(err as Error).message})`);
  }
  const parsed = networksFileSchema.safeParse(raw);
  if (!parsed.success) {
    const { path: at, message } = firstIssue(parsed.error);
    throw new ConfigError("NETWORKS_FILE", `${at}: ${message}`);
  }
  return parsed.data;
}

/** Built-ins overlaid with NETWORKS_FILE entries (matched by name), then filtered to those with RPC URLs. */
function resolveNetworks(
  env: Record<string, string | undefined>,
  entries: z.infer<typeof networksFileSchema>["networks"],
): EnabledNetwork[] {
  const byName = new Map<string, NetworkDefinition & { rpcUrls?: string[] }>(BUILTIN_NETWORKS.map((n) => [n.name, { ...n }]));
  for (const entry of entries) {
    const base = byName.get(entry.name);
    if (base && base.chainId !== entry.chainId) {
      throw new ConfigError("NETWORKS_FILE", `network ${entry.name} has chain id ${base.chainId}, not ${entry.chainId}`);
    }
    byName.set(entry.name, {
      v1: entry.v1 ?? base?.v1 ?? false,
      assets: entry.assets ?? base?.assets ?? [],
      confirmations: entry.confirmations ?? base?.confirmations ?? DEFAULTS.confirmations,
      eip6492Factories: entry.eip6492Factories ?? base?.eip6492Factories ?? DEFAULTS.eip6492Factories,
      maxFeePerGas: entry.maxFeePerGas ?? base?.maxFeePerGas ?? DEFAULTS.maxFeePerGas,
      replaceAfterSeconds: entry.replaceAfterSeconds ?? base?.replaceAfterSeconds ?? DEFAULTS.replaceAfterSeconds,
      minRelayerBalance: entry.minRelayerBalance ?? base?.minRelayerBalance ?? DEFAULTS.minRelayerBalance,
      multicallSimulation: entry.multicallSimulation ?? base?.multicallSimulation ?? DEFAULTS.multicallSimulation,
      name: entry.name,
      chainId: entry.chainId,
      rpcUrls: entry.rpcUrls,
    });
  }
  const suffixes = new Map([...byName.keys()].map((name) => [envSuffix(name), name]));
  for (const suffix of svmEnvSuffixes()) suffixes.set(suffix, suffix);
  for (const key of Object.keys(env)) {
    if (key.startsWith("RPC_URL_") && env[key] && !suffixes.has(key.slice(8))) {
      throw new ConfigError(key, `no network named ${key.slice(8).toLowerCase().replace(/_/g, "-")} (built-in or in NETWORKS_FILE)`);
    }
  }
  const enabled: EnabledNetwork[] = [];
  const chainIds = new Set<number>();
  for (const net of byName.values()) {
    const variable = `RPC_URL_${envSuffix(net.name)}`;
    let rpcUrls = net.rpcUrls;
    if (env[variable]) rpcUrls = urls(variable, env[variable]);
    if (!rpcUrls?.length) continue;
    if (chainIds.has(net.chainId)) throw new ConfigError(variable, `chain id ${net.chainId} is enabled twice`);
    chainIds.add(net.chainId);
    enabled.push({ ...net, rpcUrls, caip2: `eip155:${net.chainId}` });
  }
  return enabled;
}

function urls(variable: string, value: string): string[] {
  const parsed = urlList.safeParse(value);
  if (!parsed.success) throw new ConfigError(variable, firstIssue(parsed.error).message);
  return parsed.data;
}

function keysFile(path: string | undefined): KeyEntry[] {
  if (!path) return [];
  try {
    return loadKeysFile(path);
  } catch (err) {
    throw new ConfigError("API_KEYS_FILE", (err as Error).message);
  }
}

/** Fastify's trustProxy: off by default, since a forged X-Forwarded-For would otherwise be believed. */
function trustProxyOf(v: string | undefined): boolean | number | string {
  if (v === undefined || v === "false") return false;
  if (v === "true") return true;
  return /^[0-9]+$/.test(v) ? Number(v) : v;
}

export function loadConfig(rawEnv: Record<string, string | undefined> = process.env): Config {
  // An empty value (VAR= in a .env or compose file) means "not set", never "set to nothing".
  const env = Object.fromEntries(Object.entries(rawEnv).filter(([, v]) => v !== undefined && v.trim() !== ""));
  const parsed = baseSchema.safeParse(env);
  if (!parsed.success) {
    const { path, message } = firstIssue(parsed.error);
    throw new ConfigError(path, env[path] === undefined ? "is required" : message);
  }
  const e = parsed.data;
  if (!!e.WEBHOOK_URL !== !!e.WEBHOOK_SECRET)
    throw new ConfigError(e.WEBHOOK_URL ? "WEBHOOK_SECRET" : "WEBHOOK_URL", "is required when the other webhook variable is set");
  const relayerAddresses = list(e.RELAYER_ADDRESSES).map((a) => {
    if (!isAddress(a, { strict: false })) throw new ConfigError("RELAYER_ADDRESSES", `${a} is not an address`);
    return getAddress(a);
  });
  const file = e.NETWORKS_FILE ? loadNetworksFile(e.NETWORKS_FILE) : { networks: [], solana: [] as SvmNetworksFileEntry[] };
  return Object.freeze({
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    networks: resolveNetworks(env, file.networks),
    svmNetworks: resolveSvmNetworks(env, file.solana ?? [], urls),
    apiKeys: list(e.API_KEYS),
    apiKeyEntries: [...list(e.API_KEYS).map(plainKey), ...keysFile(e.API_KEYS_FILE)],
    rateLimit: e.RATE_LIMIT_PER_SECOND ? { perSecond: e.RATE_LIMIT_PER_SECOND, burst: e.RATE_LIMIT_BURST } : undefined,
    payerFailureBudget: e.PAYER_FAILURE_BUDGET,
    screening: { file: e.SCREENING_FILE, url: e.SCREENING_URL, timeoutMs: e.SCREENING_TIMEOUT_MS },
    adminApiKey: e.ADMIN_API_KEY,
    settleWaitMs: e.SETTLE_WAIT_MS,
    settleMaxWaitMs: Math.max(e.SETTLE_MAX_WAIT_MS, e.SETTLE_WAIT_MS),
    apiProcesses: e.API_PROCESSES,
    recoveryThreads: e.RECOVERY_THREADS,
    settleBatchMax: e.SETTLE_BATCH_MAX,
    workerConcurrency: e.WORKER_CONCURRENCY,
    blockPollMs: e.BLOCK_POLL_MS,
    basePath: e.BASE_PATH,
    logLevel: e.LOG_LEVEL,
    relayerAddresses,
    queuePrefix: e.QUEUE_PREFIX,
    faultPoint: e.FAULT_POINT,
    metricsApiKey: e.METRICS_API_KEY,
    trustProxy: trustProxyOf(e.TRUST_PROXY),
    webhook: { url: e.WEBHOOK_URL, secret: e.WEBHOOK_SECRET, allowPrivate: e.WEBHOOK_ALLOW_PRIVATE_URLS === "1" },
    workerMetricsPort: e.WORKER_METRICS_PORT,
    relayerKeySource: { inline: env.RELAYER_PRIVATE_KEY, file: env.RELAYER_PRIVATE_KEY_FILE },
    feePayerKeySource: { inline: env.SOLANA_FEE_PAYER_KEY, file: env.SOLANA_FEE_PAYER_KEY_FILE },
    discovery: { enabled: e.DISCOVERY === "1", maxAgeDays: e.DISCOVERY_MAX_AGE_DAYS },
  });
}
