// A facilitator whose api and worker run as their own OS processes on a Postgres cluster (and,
// when asked, a Redis) of the test's own, so a test can stop, restart or cut those dependencies
// and then ask whether both processes are still running and every payment landed once.
// OUTAGE_LOG_DIR=dir runs both at debug level and leaves their logs there (api.log, worker.log).
import { randomBytes } from "node:crypto";
import { privateKeyToAccount } from "viem/accounts";
import type { Address, Hex } from "viem";
import postgres from "postgres";
import { expect, inject } from "vitest";
import { ANVIL_KEYS } from "../../src/devnet/anvil.js";
import { testEnv } from "./api.js";
import { startTestChain, type TestChain } from "./chain.js";
import { usesOf } from "./chain-facts.js";
import { ADMIN_KEY } from "./facilitator.js";
import { fundedPayment, type v2Body } from "./payments.js";
import { startPrivatePostgres, type PrivatePostgres } from "./private-postgres.js";
import { startPrivateRedis, type PrivateRedis } from "./private-redis.js";
import { spawnMode, tail, type FacilitatorProcess } from "./processes.js";
import { auditRelayer, relayerProblems } from "./relayer-audit.js";

export const NETWORK = "eip155:84532";
export const PRICE = 10_000n;
export const relayer = privateKeyToAccount(ANVIL_KEYS[0]).address;
export const payTo = privateKeyToAccount(ANVIL_KEYS[3]).address;

export interface Payment {
  buyer: Address;
  nonce: Hex;
  body: ReturnType<typeof v2Body>;
}

/** What a client saw: an HTTP status and JSON body, or that the connection failed (status 0). */
export interface Answer {
  status: number;
  json: any;
}

export interface OutageLab {
  chain: TestChain;
  pg: PrivatePostgres;
  redis?: PrivateRedis;
  api: FacilitatorProcess;
  worker: FacilitatorProcess;
  url: string;
  /** Direct SQL on the facilitator's database. */
  sql: postgres.Sql;
  /** Starts a fresh api and worker (after the old ones exited), and points the lab at them. */
  respawn(): Promise<void>;
  newPayments(n: number): Promise<Payment[]>;
  post(path: string, body: unknown): Promise<Answer>;
  get(path: string, admin?: boolean): Promise<Answer>;
  close(): Promise<void>;
}

export async function openOutageLab(opts: { privateRedis?: boolean; env?: Record<string, string> } = {}): Promise<OutageLab> {
  const chain = await startTestChain();
  const pg = await startPrivatePostgres();
  const redis = opts.privateRedis ? await startPrivateRedis() : undefined;
  const env = testEnv(chain, {
    DATABASE_URL: pg.url,
    ...(redis ? { REDIS_URL: redis.url } : {}),
    ADMIN_API_KEY: ADMIN_KEY,
    RELAYER_PRIVATE_KEY: ANVIL_KEYS[0],
    QUEUE_PREFIX: `${inject("redisPrefix")}:${randomBytes(3).toString("hex")}`,
    SETTLE_WAIT_MS: "15000",
    SETTLE_MAX_WAIT_MS: "20000",
    ...(process.env.OUTAGE_LOG_DIR ? { LOG_LEVEL: "debug" } : {}),
    ...opts.env,
  });
  const spawnBoth = async () => {
    const worker = spawnMode("worker", env);
    const api = spawnMode("api", env);
    await Promise.all([worker.ready(60_000), api.ready(60_000)]);
    return { worker, api, url: /"url":"(http:\/\/[^"]+)"/.exec(api.output())![1]! };
  };
  const sql = postgres(pg.url, { max: 2, onnotice: () => {} });

  const request = async (path: string, init: RequestInit): Promise<Answer> => {
    try {
      const res = await fetch(`${lab.url}${path}`, { ...init, signal: AbortSignal.timeout(60_000) });
      const text = await res.text();
      try {
        return { status: res.status, json: JSON.parse(text) };
      } catch {
        return { status: res.status, json: { notJson: text.slice(0, 200) } };
      }
    } catch (err) {
      return { status: 0, json: { connectionError: String((err as Error).cause ?? err) } };
    }
  };

  const lab: OutageLab = {
    chain,
    pg,
    redis,
    ...(await spawnBoth()),
    sql,
    async respawn() {
      Object.assign(lab, await spawnBoth());
    },
    async newPayments(n) {
      const made = await Promise.all(Array.from({ length: n }, () => fundedPayment(chain, { payTo, value: PRICE })));
      return made.map((p) => ({ buyer: p.buyer.address, nonce: p.authorization.nonce, body: p.body }));
    },
    post: (path, body) => request(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
    get: (path, admin) => request(path, admin ? { headers: { authorization: `Bearer ${ADMIN_KEY}` } } : {}),
    async close() {
      await Promise.all([lab.api.kill(), lab.worker.kill()]);
      if (process.env.OUTAGE_LOG_DIR) {
        const { writeFileSync } = await import("node:fs");
        writeFileSync(`${process.env.OUTAGE_LOG_DIR}/api.log`, lab.api.output());
        writeFileSync(`${process.env.OUTAGE_LOG_DIR}/worker.log`, lab.worker.output());
      }
      await sql.end({ timeout: 1 }).catch(() => undefined);
      await Promise.all([pg.destroy(), redis?.stop(), chain.stop()]);
    },
  };
  return lab;
}

/** An answer a client may get while a dependency is away: settled, pending with its hash, or a JSON 503. */
export function expectHonestAnswer(a: Answer, payment: Payment, context: () => string): void {
  const why = () => `${JSON.stringify(a)}\n${context()}`;
  if (a.status === 503) {
    expect(a.json.error, why()).toMatch(/^(database_unavailable|queue_unavailable|rpc_unavailable)$/);
    return;
  }
  expect(a.status, why()).toBe(200);
  expect(a.json.payer, why()).toBe(payment.buyer);
  if (!a.json.success) {
    expect(a.json.errorReason, why()).toBe("settlement_pending");
    expect(a.json.transaction, why()).toMatch(/^0x[0-9a-f]{64}$/);
  }
}

/** Polls `read` until `ok` holds, or fails with `explain` after `timeoutMs`. */
export async function waitUntil<T>(
  read: () => Promise<T>,
  ok: (v: T) => boolean,
  timeoutMs: number,
  explain: (v: T) => string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(explain(v));
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * The end state every outage must leave: both processes running, ready again, every row
 * confirmed in the operator API, each authorization used once on chain by the row's own
 * transaction, the relayer's nonces all on record, and identical retries naming that
 * transaction, with exactly one success ever told per payment (`earlier` are the answers
 * clients already got).
 */
export async function expectAllLandedOnce(lab: OutageLab, payments: Payment[], earlier: Answer[][], payToBefore: bigint) {
  const logs = () => `api:\n${tail(lab.api.output(), 15)}\nworker:\n${tail(lab.worker.output(), 15)}`;
  await waitUntil(
    () => lab.get("/readyz"),
    (r) => r.status === 200,
    30_000,
    (r) => `not ready again: ${JSON.stringify(r.json)}\n${logs()}`,
  );
  type Item = { payer: string; nonce: string; state: string; transaction: string | null };
  const items = await waitUntil(
    async () => ((await lab.get("/settlements?limit=200", true)).json?.items ?? []) as Item[],
    (rows) => rows.length === payments.length && rows.every((r) => r.state === "confirmed"),
    60_000,
    (rows) => `not all confirmed: ${JSON.stringify(rows.map((r) => r.state))} of ${payments.length}\n${logs()}`,
  );
  const byPayer = new Map(items.map((r) => [r.payer, r]));
  const told = earlier.map((answers) => answers.filter((a) => a.json?.success === true).length);
  for (const [i, p] of payments.entries()) {
    const row = byPayer.get(p.buyer.toLowerCase())!;
    expect(row.nonce).toBe(p.nonce.toLowerCase());
    expect(await usesOf(lab.chain, p.buyer, p.nonce)).toEqual([row.transaction]);
    const retry = await lab.post("/settle", p.body);
    expect(retry.status, JSON.stringify(retry)).toBe(200);
    expect(retry.json.transaction).toBe(row.transaction);
    if (retry.json.success) told[i]! += 1;
    else expect(retry.json.errorReason).toBe("invalid_exact_evm_nonce_already_used");
  }
  expect(told, "successes told per payment").toEqual(payments.map(() => 1));
  expect(await lab.chain.balanceOf(payTo)).toBe(payToBefore + PRICE * BigInt(payments.length));
  expect(relayerProblems(await auditRelayer(lab.chain, lab.sql, relayer))).toEqual([]);
  expect(lab.api.alive(), `api exited\n${logs()}`).toBe(true);
  expect(lab.worker.alive(), `worker exited\n${logs()}`).toBe(true);
  expect(`${lab.api.output()}${lab.worker.output()}`).not.toMatch(/Cannot read properties of null|uncaught|unhandled/i);
}
