// Exactly-once for `exact` via Permit2: the races, crashes and Redis loss the EIP-3009 tests put
// the ledger through (settle-races, crash, redis-loss), replayed with signed Permit2 witness
// transfers in the permit-only token. Judged from the chain: one Transfer out of the payer per
// Permit2 nonce (by the transaction the ledger names), the price moved once, the nonce bit set,
// the relayer's nonces contiguous and all on record; identical retries name that transaction.
//
// Every case has a lab of its own (anvil chain with the Permit2 stack, facilitator, database,
// queue prefix), so the relayer audit sees only that case's transactions.
import type { Address, Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ANVIL_KEYS } from "../src/devnet/anvil.js";
import { X402_EXACT_PERMIT2_PROXY } from "../src/devnet/permit2.js";
import { permit2NonceUsed } from "./support/permit2-merchant.js";
import { FUNDED, labRunner, openPermit2Lab, TX_HASH, type ExactPayment as Payment, type Permit2Row as Row } from "./support/permit2-lab.js";
import { startPrivateRedis, type PrivateRedis } from "./support/private-redis.js";
import { peekJobs } from "./support/queue-peek.js";
import { killAllProcesses, type FacilitatorProcess } from "./support/processes.js";
import { expectKilledBySigkill, expectPending, FAULT_POINTS, RECOVERY_MS } from "./support/worker-crash.js";

const relayer = privateKeyToAccount(ANVIL_KEYS[0]).address;
const NETWORK = "eip155:84532";
const PRICE = 10_000n;
const CASE_TIMEOUT_MS = 90_000;

afterAll(async () => {
  // Safety net: each lab kills its own workers; this catches anything a crashed test left.
  await killAllProcesses();
});

async function openLab(opts: Parameters<typeof openPermit2Lab>[0]) {
  const base = await openPermit2Lab(opts);
  const { chain, payTo } = base;
  const lab = {
    ...base,
    relayerNonce: () => base.txCount(relayer),
    /** A fresh payer holding FUNDED tokens, Permit2 approved, and its signed payment of PRICE to payTo. */
    async newPayment(): Promise<Payment & { variant(o: { resourceUrl?: string; extra?: Record<string, string> }): Payment["body"] }> {
      const payment = await base.newExact(PRICE);
      return {
        ...payment,
        // The same signed authorization inside a different request body (fields nobody signed).
        variant: (o) => {
          const copy = structuredClone(payment.body);
          if (o.resourceUrl) copy.paymentPayload.resource!.url = o.resourceUrl;
          Object.assign(copy.paymentRequirements.extra, o.extra);
          copy.paymentPayload.accepted = copy.paymentRequirements;
          return copy;
        },
      };
    },
    /** Transactions that moved the token out of `payer`: more than one would be a double spend. */
    transfersFrom: async (payer: Address): Promise<string[]> => (await base.transfersFrom(payer)).map((t) => t.tx),
    waitConfirmed: (payments: Payment[], timeoutMs: number, worker?: FacilitatorProcess) =>
      base.waitState(payments, "confirmed", timeoutMs, worker),
    /**
     * The exactly-once verdict for confirmed payments: each moved the price once, by the row's own
     * transaction through the exact proxy; its Permit2 nonce is spent; payTo got the sum; the
     * relayer sent one transaction per payment and every one of them is on record.
     */
    async expectSettledOnce(payments: Payment[], rows: Row[], before: { payTo: bigint; relayerNonce: number }) {
      for (const [i, p] of payments.entries()) {
        const row = rows[i]!;
        expect(row.method).toBe("permit2");
        expect(row.settled_tx).toMatch(TX_HASH);
        expect(row.settled_by).toBe("self");
        expect(await lab.transfersFrom(p.payer)).toEqual([row.settled_tx]);
        const tx = await chain.client.getTransaction({ hash: row.settled_tx as Hex });
        expect(tx.to?.toLowerCase()).toBe(X402_EXACT_PERMIT2_PROXY.toLowerCase());
        expect(tx.from.toLowerCase()).toBe(relayer.toLowerCase());
        expect(await lab.balanceOf(p.payer)).toBe(FUNDED - PRICE);
        expect(await permit2NonceUsed(chain, p.payer, p.nonce)).toBe(true);
        expect(await lab.storedTxsOf(row.id)).toBe(1);
      }
      expect(await lab.balanceOf(payTo)).toBe(before.payTo + PRICE * BigInt(payments.length));
      expect(await lab.relayerNonce()).toBe(before.relayerNonce + payments.length);
      await lab.expectRelayersClean([relayer]);
    },
  };
  return lab;
}

type Lab = Awaited<ReturnType<typeof openLab>>;
const withLab = labRunner(openLab);

const before = async (lab: Lab) => ({ payTo: await lab.balanceOf(lab.payTo), relayerNonce: await lab.relayerNonce() });

describe("concurrent /settle for one Permit2 payment", () => {
  it(
    "8 identical calls at once: one success, the others told the nonce is used with the same transaction; one transfer",
    async () => {
      await withLab({ worker: true }, async (lab) => {
        const p = await lab.newPayment();
        const was = await before(lab);

        const answers = await Promise.all(Array.from({ length: 8 }, () => lab.fac.settle(p.body)));
        const [row] = await lab.waitConfirmed([p], 15_000);
        const tx = row!.settled_tx;
        expect(tx).toMatch(TX_HASH);
        for (const a of answers) expect(a.status, JSON.stringify(a.json)).toBe(200);
        const successes = answers.filter((a) => a.json.success === true);
        expect(successes.map((a) => a.json)).toEqual([{ success: true, payer: p.payer, transaction: tx, network: NETWORK }]);
        for (const a of answers.filter((a) => a.json.success !== true)) {
          expect(["permit2_invalid_nonce", "settlement_pending"], JSON.stringify(a.json)).toContain(a.json.errorReason);
          expect(a.json, JSON.stringify(a.json)).toMatchObject({ success: false, payer: p.payer, network: NETWORK, transaction: tx });
        }

        await lab.expectSettledOnce([p], [row!], was);
        // An identical retry now: the success was told once, so it hears the nonce is used, with the real hash.
        const retry = await lab.fac.settle(p.body);
        expect(retry.json).toMatchObject({
          success: false,
          errorReason: "permit2_invalid_nonce",
          payer: p.payer,
          transaction: tx,
        });
        expect(await lab.transfersFrom(p.payer)).toEqual([tx]);
      });
    },
    CASE_TIMEOUT_MS,
  );

  it(
    "the same authorization in three different request bodies at once: one settles, the others are duplicate_settlement; one transfer",
    async () => {
      await withLab({ worker: true }, async (lab) => {
        const p = await lab.newPayment();
        const bodies = [p.body, p.variant({ resourceUrl: "http://localhost/another-resource" }), p.variant({ extra: { orderId: "b-42" } })];
        expect(new Set(bodies.map((b) => JSON.stringify(b))).size).toBe(bodies.length);
        const was = await before(lab);

        const answers = await Promise.all(bodies.map((b) => lab.fac.settle(b)));
        const [row] = await lab.waitConfirmed([p], 15_000);
        const tx = row!.settled_tx;
        for (const x of answers) expect(x.status, JSON.stringify(x.json)).toBe(200);
        const won = answers.findIndex((x) => x.json.success === true);
        expect(won, JSON.stringify(answers.map((x) => x.json))).not.toBe(-1);
        expect(answers[won]!.json).toEqual({ success: true, payer: p.payer, transaction: tx, network: NETWORK });
        const lost = bodies.map((_, i) => i).filter((i) => i !== won);
        for (const i of lost) {
          expect(answers[i]!.json).toMatchObject({ success: false, errorReason: "duplicate_settlement", payer: p.payer });
          // Told before or after the winner's transaction existed: "" or that hash, never another.
          expect([tx, ""]).toContain(answers[i]!.json.transaction);
        }

        await lab.expectSettledOnce([p], [row!], was);
        // Retries of each body name the real transaction, and none is a second success.
        const retryWon = await lab.fac.settle(bodies[won]);
        expect(retryWon.json).toMatchObject({ success: false, errorReason: "permit2_invalid_nonce", transaction: tx });
        for (const i of lost) {
          const retry = await lab.fac.settle(bodies[i]);
          expect(retry.json).toMatchObject({ success: false, errorReason: "duplicate_settlement", transaction: tx });
        }
        expect(await lab.transfersFrom(p.payer)).toEqual([tx]);
      });
    },
    CASE_TIMEOUT_MS,
  );
});

describe.concurrent("Permit2 worker SIGKILLed mid-settlement, then a fresh worker process", () => {
  it.each(FAULT_POINTS)(
    "killed $at ($point): one transfer per nonce, the price moved once, retries name the real transaction",
    async ({ point }) => {
      // No in-process worker: the only workers are the child processes the case starts.
      await withLab({ worker: false, env: { SETTLE_WAIT_MS: "1500" } }, async (lab) => {
        const faulty = lab.spawn({ FAULT_POINT: point });
        await faulty.ready();
        const p = await lab.newPayment();
        const was = await before(lab);

        const pending = await lab.fac.settle(p.body);
        expectPending(pending, p.payer);
        await expectKilledBySigkill(faulty, point);

        // What the crash left behind.
        const crashed = (await lab.rowOf(p))!;
        expect(crashed, "the claim is committed before the worker runs").toBeDefined();
        expect(crashed.method).toBe("permit2");
        await lab.expectCrashLeft(p, crashed, pending, point);

        const fresh = lab.spawn();
        await fresh.ready();
        const [row] = await lab.waitConfirmed([p], RECOVERY_MS, fresh);

        await lab.expectSettledOnce([p], [row!], was);
        // One signed before the crash is sent as it is, not re-signed.
        if (point !== "before_sign") expect(row!.settled_tx).toBe(crashed.latest_tx);

        // The identical retry is answered from the row: success (never told before), with the hash that landed.
        const retry = await lab.fac.settle(p.body);
        expect(retry).toEqual({ status: 200, json: { success: true, payer: p.payer, transaction: row!.settled_tx, network: NETWORK } });
        const again = await lab.fac.settle(p.body);
        expect(again.json).toMatchObject({
          success: false,
          errorReason: "permit2_invalid_nonce",
          transaction: row!.settled_tx,
        });
        expect(await lab.transfersFrom(p.payer)).toEqual([row!.settled_tx]);
      });
    },
    CASE_TIMEOUT_MS,
  );
});

describe("Redis wiped (FLUSHALL) with Permit2 settlements queued", () => {
  let redis: PrivateRedis;
  beforeAll(async () => {
    redis = await startPrivateRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it(
    "no worker while they wait in the queue; a worker started after the wipe settles each exactly once",
    async () => {
      await withLab({ worker: false, env: { REDIS_URL: redis.url, SETTLE_WAIT_MS: "1000" } }, async (lab) => {
        const payments = await Promise.all(Array.from({ length: 4 }, () => lab.newPayment()));
        const was = await before(lab);

        // No worker: every /settle is claimed, enqueued and answered pending.
        const answers = await Promise.all(payments.map((p) => lab.fac.settle(p.body)));
        answers.forEach((a, i) =>
          expect(a.json).toEqual({
            success: false,
            errorReason: "settlement_pending",
            payer: payments[i]!.payer,
            transaction: "",
            network: NETWORK,
          }),
        );
        const queued = await Promise.all(payments.map(lab.rowOf));
        expect(queued.map((r) => [r?.method, r?.state])).toEqual(payments.map(() => ["permit2", "queued"]));
        const jobs = await peekJobs(
          redis.url,
          lab.fac.env.QUEUE_PREFIX!,
          queued.map((r) => r!.id),
        );
        expect(
          jobs.split("\n").every((l) => /: wait,/.test(l)),
          jobs,
        ).toBe(true);

        await redis.client.flushall();
        expect(await redis.client.dbsize()).toBe(0);

        await lab.fac.startWorker();
        const rows = await lab.waitConfirmed(payments, 20_000);
        await lab.expectSettledOnce(payments, rows, was);

        // Identical retries are answered from the ledger with the hash that landed.
        const retries = await Promise.all(payments.map((p) => lab.fac.settle(p.body)));
        retries.forEach((r, i) =>
          expect(r.json).toEqual({ success: true, payer: payments[i]!.payer, transaction: rows[i]!.settled_tx, network: NETWORK }),
        );
      });
    },
    CASE_TIMEOUT_MS,
  );
});
