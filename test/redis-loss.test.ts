// Redis is only the worker's wake-up call (threats.md §1.17, §3 test 4): wipe it with FLUSHALL
// while settlements are queued, or while the worker is busy and more jobs wait behind it, and
// every settlement still confirms from the Postgres ledger, each authorization used exactly once
// on chain. Runs against a redis-server of its own so FLUSHALL touches no other test file.
import { privateKeyToAccount } from "viem/accounts";
import type { Address, Hex } from "viem";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ANVIL_KEYS } from "../src/devnet/anvil.js";
import { startTestChain, type TestChain } from "./support/chain.js";
import { usesOf } from "./support/chain-facts.js";
import { startFacilitator, type TestFacilitator } from "./support/facilitator.js";
import { fundedPayment, type v2Body } from "./support/payments.js";
import { startPrivateRedis, type PrivateRedis } from "./support/private-redis.js";
import { peekJobs } from "./support/queue-peek.js";
import { auditRelayer, relayerProblems } from "./support/relayer-audit.js";

const relayer = privateKeyToAccount(ANVIL_KEYS[0]).address;
const payTo = privateKeyToAccount(ANVIL_KEYS[3]).address;
const PRICE = 10_000n;
const FUNDED = 1_000_000n; // "1" USDC
const RECOVERY_MS = 20_000;
const NETWORK = "eip155:84532";

let redis: PrivateRedis;
// A chain and a facilitator (with a database of its own) per test, on the file's private Redis.
let chain: TestChain;
let fac: TestFacilitator;

beforeAll(async () => {
  redis = await startPrivateRedis();
});

afterAll(async () => {
  await redis?.stop();
});

beforeEach(async () => {
  chain = await startTestChain();
  fac = await startFacilitator(chain, { REDIS_URL: redis.url, SETTLE_WAIT_MS: "1000" }, { worker: false });
});

afterEach(async () => {
  await fac?.close();
  await chain?.stop();
});

interface Payment {
  buyer: Address;
  nonce: Hex;
  body: ReturnType<typeof v2Body>;
}

async function newPayment(): Promise<Payment> {
  const p = await fundedPayment(chain, { payTo, value: PRICE });
  return { buyer: p.buyer.address, nonce: p.authorization.nonce, body: p.body };
}

type Row = { id: string; state: string; settled_tx: string | null };

async function rowOf(p: Payment): Promise<Row | undefined> {
  const [row] = await fac.sql<Row[]>`
    select id, state, settled_tx from settlements
    where chain_id = ${chain.chainId} and payer = ${p.buyer.toLowerCase()} and nonce = ${p.nonce.toLowerCase()}`;
  return row;
}

const jobsOf = (ids: string[]) => peekJobs(redis.url, fac.env.QUEUE_PREFIX!, ids);

async function waitFor<T>(
  read: () => Promise<T>,
  ok: (v: T) => boolean,
  timeoutMs: number,
  explain: (v: T) => Promise<string>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(await explain(v));
    await new Promise((r) => setTimeout(r, 100));
  }
}

const waitConfirmed = (payments: Payment[]) =>
  waitFor(
    () => Promise.all(payments.map(rowOf)),
    (rows) => rows.every((r) => r?.state === "confirmed"),
    RECOVERY_MS,
    async (rows) =>
      `not all confirmed within ${RECOVERY_MS / 1000} s: ${JSON.stringify(rows.map((r) => r?.state))}\nBullMQ:\n${await jobsOf(rows.map((r) => r?.id ?? "?"))}`,
  ) as Promise<Row[]>;

/** Every authorization used exactly once, by the row's own tx; the money moved once each; the relayer lane clean. */
async function expectSettledOnce(payments: Payment[], rows: Row[], payToBefore: bigint) {
  for (const [i, p] of payments.entries()) {
    expect(rows[i]!.settled_tx).toMatch(/^0x[0-9a-f]{64}$/);
    expect(await usesOf(chain, p.buyer, p.nonce)).toEqual([rows[i]!.settled_tx]);
    expect(await chain.balanceOf(p.buyer)).toBe(FUNDED - PRICE);
  }
  expect(await chain.balanceOf(payTo)).toBe(payToBefore + PRICE * BigInt(payments.length));
  expect(await chain.client.getTransactionCount({ address: relayer })).toBe(payments.length);
  expect(relayerProblems(await auditRelayer(chain, fac.sql, relayer))).toEqual([]);
  // Identical retries are answered from the ledger with the hash that landed.
  const retries = await Promise.all(payments.map((p) => fac.settle(p.body)));
  retries.forEach((r, i) =>
    expect(r.json).toEqual({ success: true, payer: payments[i]!.buyer, transaction: rows[i]!.settled_tx, network: NETWORK }),
  );
}

describe("Redis wiped (FLUSHALL)", () => {
  it("while settlements wait in the queue and no worker runs: a worker started afterwards settles all of them", async () => {
    const payments = await Promise.all(Array.from({ length: 5 }, () => newPayment()));
    const payToBefore = await chain.balanceOf(payTo);

    // No worker: every /settle is claimed, enqueued and answered pending after SETTLE_WAIT_MS.
    const answers = await Promise.all(payments.map((p) => fac.settle(p.body)));
    answers.forEach((a, i) =>
      expect(a.json).toEqual({
        success: false,
        errorReason: "settlement_pending",
        payer: payments[i]!.buyer,
        transaction: "",
        network: NETWORK,
      }),
    );
    const queued = await Promise.all(payments.map(rowOf));
    expect(queued.map((r) => r?.state)).toEqual(payments.map(() => "queued"));
    const ids = queued.map((r) => r!.id);
    expect(
      (await jobsOf(ids)).split("\n").every((l) => /: wait,/.test(l)),
      await jobsOf(ids),
    ).toBe(true);

    await redis.client.flushall();
    expect(await redis.client.dbsize()).toBe(0);

    await fac.startWorker();
    const rows = await waitConfirmed(payments);
    await expectSettledOnce(payments, rows, payToBefore);
  });

  it("while the worker is busy with one settlement and the others wait behind it: all of them still confirm", async () => {
    const payments = await Promise.all(Array.from({ length: 4 }, () => newPayment()));
    const payToBefore = await chain.balanceOf(payTo);
    // No blocks until we say so: the worker's first job sits waiting for its receipt.
    await chain.test.setAutomine(false);
    // One job at a time: the others wait in Redis behind the busy one.
    await fac.startWorker({}, { concurrency: 1 });

    const answers = await Promise.all(payments.map((p) => fac.settle(p.body)));
    answers.forEach((a, i) =>
      expect(a.json).toMatchObject({ success: false, errorReason: "settlement_pending", payer: payments[i]!.buyer, network: NETWORK }),
    );
    const busy = await waitFor(
      () => Promise.all(payments.map(rowOf)),
      (rows) => rows.filter((r) => r?.state === "submitted").length === 1,
      10_000,
      async (rows) => `the worker never got one settlement to submitted: ${JSON.stringify(rows.map((r) => r?.state))}`,
    );
    const waiting = busy.filter((r) => r!.state === "queued");
    expect(waiting.length, JSON.stringify(busy.map((r) => r?.state))).toBe(payments.length - 1);
    const before = await jobsOf(busy.map((r) => r!.id));
    expect(
      before.split("\n").filter((l) => /: active,/.test(l)),
      before,
    ).toHaveLength(1);

    // The busy job's lock and every waiting job are gone.
    await redis.client.flushall();
    expect(await jobsOf(waiting.map((r) => r!.id))).not.toMatch(/: (wait|active|delayed)/);

    await chain.test.setAutomine(true);
    await chain.test.mine({ blocks: 1 });
    const rows = await waitConfirmed(payments);
    await expectSettledOnce(payments, rows, payToBefore);
  });
});
