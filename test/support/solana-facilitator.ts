// The facilitator with only Solana enabled, against the SIMULATED cluster (LiteSVM behind a
// JSON-RPC server; see src/devnet/solana): the real api listening on an ephemeral port and, when
// asked, the real worker in this process, on this run's database and a Redis prefix of its own.
import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { inject } from "vitest";
import { ExactSvmScheme } from "@x402/svm/exact/client";
import { generateKeyPairSigner, type Address, type KeyPairSigner } from "@solana/kit";
import { loadConfig } from "../../src/config/config.js";
import { createLogger } from "../../src/logger.js";
import { createApi } from "../../src/runtime/api.js";
import { startWorker, type RunningWorker, type WorkerOptions } from "../../src/runtime/worker.js";
import { createTestDatabase } from "./database.js";
import { ADMIN_KEY } from "./facilitator.js";
import { fundedBuyer, generateFeePayerKey, type FeePayerKey, type LocalSolana } from "./solana.js";

export interface SolanaFacilitator {
  url: string;
  env: Record<string, string>;
  feePayer: FeePayerKey;
  sql: postgres.Sql;
  startWorker(extra?: Record<string, string>, opts?: WorkerOptions): Promise<RunningWorker>;
  post(path: "/verify" | "/settle", body: unknown): Promise<{ status: number; json: any }>;
  admin(path: string): Promise<{ status: number; json: any }>;
  close(): Promise<void>;
}

export async function startSolanaFacilitator(
  local: LocalSolana,
  extra: Record<string, string> = {},
  opts: { worker?: boolean; feePayerSol?: bigint } = {},
): Promise<SolanaFacilitator> {
  const feePayer = await generateFeePayerKey(local, opts.feePayerSol ?? 1_000_000_000n);
  const env: Record<string, string> = {
    DATABASE_URL: await createTestDatabase(),
    REDIS_URL: inject("redisUrl"),
    QUEUE_PREFIX: `${inject("redisPrefix")}:${randomBytes(3).toString("hex")}`,
    RPC_URL_SOLANA_DEVNET: local.url,
    SOLANA_FEE_PAYER_KEY: feePayer.base58,
    ADMIN_API_KEY: ADMIN_KEY,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    PORT: "0",
    HOST: "127.0.0.1",
    WORKER_METRICS_PORT: "0",
    SETTLE_WAIT_MS: "15000",
    SETTLE_MAX_WAIT_MS: "1000",
    ...extra,
  };
  const workers: RunningWorker[] = [];
  // The worker first: it records the fee payer the api advertises and accepts.
  const spawn = async (more: Record<string, string> = {}, wopts: WorkerOptions = {}) => {
    const config = loadConfig({ ...env, ...more });
    const w = await startWorker(config, createLogger(config.logLevel), { pollingMs: 100, reconcileIntervalMs: 1_000, ...wopts });
    workers.push(w);
    return w;
  };
  const sql = postgres(env.DATABASE_URL!, { max: 2, onnotice: () => {} });
  if (opts.worker !== false) await spawn();
  // Without a worker now, as if one had held the key and gone: the ledger still names it.
  else await sql`insert into svm_fee_payers (network, address) values (${local.caip2}, ${feePayer.address})`;
  const config = loadConfig(env);
  const api = await createApi(config, createLogger(config.logLevel));
  const url = await api.app.listen({ port: 0, host: "127.0.0.1" });
  const call = async (path: string, init: RequestInit = {}) => {
    const res = await fetch(`${url}${path}`, init);
    return { status: res.status, json: await res.json() };
  };
  return {
    url,
    env,
    feePayer,
    sql,
    startWorker: spawn,
    post: (path, body) => call(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
    admin: (path) => call(path, { headers: { authorization: `Bearer ${ADMIN_KEY}` } }),
    async close() {
      await Promise.allSettled(workers.map((w) => w.close()));
      await api.close();
      await sql.end();
    },
  };
}

export interface SvmRequirements {
  scheme: "exact";
  network: string;
  amount: string;
  asset: string;
  payTo: string;
  maxTimeoutSeconds: number;
  extra: { feePayer: string; memo?: string };
}

/** A v2 /verify or /settle body for a payment the official client signs against the simulated cluster. */
export async function officialPayment(
  local: LocalSolana,
  buyer: KeyPairSigner,
  requirements: SvmRequirements,
): Promise<{ x402Version: 2; paymentPayload: Record<string, unknown>; paymentRequirements: SvmRequirements }> {
  const client = new ExactSvmScheme(buyer, { rpcUrl: local.url });
  const created = await client.createPaymentPayload(2, requirements as never);
  return {
    x402Version: 2,
    paymentPayload: { x402Version: 2, accepted: requirements, payload: created.payload },
    paymentRequirements: requirements,
  };
}

/** A merchant's address whose USDC account exists (empty), so a payment to it can land. */
export async function newMerchant(local: LocalSolana): Promise<Address> {
  const payTo = (await generateKeyPairSigner()).address;
  await local.cluster.fundToken({ mint: local.usdc, owner: payTo, amount: 0n });
  return payTo;
}

/** v2 requirements for `amount` of the cluster's USDC to `payTo`, through `f`'s fee payer. */
export const svmRequirements = (
  local: LocalSolana,
  f: Pick<SolanaFacilitator, "feePayer">,
  payTo: string,
  amount = "10000",
): SvmRequirements => ({
  scheme: "exact",
  network: local.caip2,
  amount,
  asset: local.usdc,
  payTo,
  maxTimeoutSeconds: 60,
  extra: { feePayer: f.feePayer.address },
});

/** A funded buyer's payment of 10000 units to a new merchant, as the official client signs it. */
export async function newSvmPayment(local: LocalSolana, f: Pick<SolanaFacilitator, "feePayer">) {
  const payTo = await newMerchant(local);
  const buyer = await fundedBuyer(local, { usdc: 1_000_000n });
  const body = await officialPayment(local, buyer.signer, svmRequirements(local, f, payTo));
  return { payTo, buyer, body };
}
