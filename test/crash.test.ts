// Worker killed with SIGKILL at each write-ahead fault point (threats.md §2, test 2): the worker
// runs as its own OS process with FAULT_POINT set, kills itself there mid-settlement, and a fresh
// worker process has to finish the job from the ledger alone. Judged from the chain: one use of
// the authorization, the price moved once, the relayer's nonces contiguous and all on record.
//
// Every case has a lab of its own (anvil chain, facilitator, database, queue prefix, worker
// processes), so the cases run concurrently and a failing one leaves nothing to the others.
import { privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import { ANVIL_KEYS } from "../src/devnet/anvil.js";
import { usesOf } from "./support/chain-facts.js";
import { fundedPayment } from "./support/payments.js";
import { peekJobs } from "./support/queue-peek.js";
import { auditRelayer, relayerProblems } from "./support/relayer-audit.js";
import { tail, type FacilitatorProcess } from "./support/processes.js";
import {
  expectKilledBySigkill,
  expectPending,
  FAULT_POINTS,
  openCrashLab,
  killLeftoverWorkersAfterAll,
  type CrashPayment,
  RECOVERY_MS,
} from "./support/worker-crash.js";

const relayer = privateKeyToAccount(ANVIL_KEYS[0]).address;
const payTo = privateKeyToAccount(ANVIL_KEYS[3]).address;
const NETWORK = "eip155:84532";
const PRICE = 10_000n;
const FUNDED = 1_000_000n; // "1" USDC
const CASE_TIMEOUT_MS = 90_000;

killLeftoverWorkersAfterAll();

type Payment = CrashPayment;

type Row = {
  id: string;
  state: string;
  latest_tx: string | null;
  settled_tx: string | null;
  settled_by: string | null;
  relayer_nonce: string | null;
};

async function openLab() {
  const base = await openCrashLab();
  const { chain, fac } = base;

  const lab = {
    ...base,
    async faultyWorker(point: string): Promise<FacilitatorProcess> {
      const w = lab.spawn({ FAULT_POINT: point });
      await w.ready();
      return w;
    },
    async newPayment(): Promise<Payment> {
      const p = await fundedPayment(chain, { payTo, value: PRICE });
      return { buyer: p.buyer.address, nonce: p.authorization.nonce, body: p.body };
    },
    async rowOf(p: Payment): Promise<Row | undefined> {
      const [row] = await fac.sql<Row[]>`
        select id, state, latest_tx, settled_tx, settled_by, relayer_nonce::text
        from settlements where chain_id = ${chain.chainId} and payer = ${p.buyer.toLowerCase()} and nonce = ${p.nonce.toLowerCase()}`;
      return row;
    },
    async transfersOf(id: string): Promise<number> {
      const [r] = await fac.sql<{ n: number }[]>`select count(*)::int as n from settlement_txs where settlement_id = ${id}`;
      return r!.n;
    },
    relayerNonce: () => chain.client.getTransactionCount({ address: relayer }),
    /** Polls the ledger until every row is confirmed; on timeout, fails with the states, the queue and the worker's log. */
    async waitConfirmed(payments: Payment[], worker: FacilitatorProcess): Promise<Row[]> {
      const deadline = Date.now() + RECOVERY_MS;
      for (;;) {
        const rows = await Promise.all(payments.map(lab.rowOf));
        if (rows.every((r) => r?.state === "confirmed")) return rows as Row[];
        if (Date.now() > deadline) {
          throw new Error(
            `not confirmed ${RECOVERY_MS / 1000} s after the restart: states ${JSON.stringify(rows.map((r) => r?.state))}\n` +
              `BullMQ:\n${await peekJobs(
                fac.env.REDIS_URL!,
                fac.env.QUEUE_PREFIX!,
                rows.map((r) => r?.id ?? "?"),
              )}\n` +
              `restarted worker's log:\n${tail(worker.output())}`,
          );
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    },
    async expectRelayerLaneClean() {
      expect(relayerProblems(await auditRelayer(chain, fac.sql, relayer))).toEqual([]);
    },
  };
  return lab;
}

describe.concurrent("worker SIGKILLed mid-settlement, then a fresh worker process", () => {
  it.each(FAULT_POINTS)(
    "killed $at ($point): one use on chain, the price moved once, nonces contiguous and on record",
    async ({ point }) => {
      const lab = await openLab();
      try {
        const faulty = await lab.faultyWorker(point);
        const p = await lab.newPayment();
        const before = {
          buyer: await lab.chain.balanceOf(p.buyer),
          payTo: await lab.chain.balanceOf(payTo),
          relayerNonce: await lab.relayerNonce(),
        };

        const pending = await lab.fac.settle(p.body);
        expectPending(pending, p.buyer);
        await expectKilledBySigkill(faulty, point);

        // What the crash left behind.
        const crashed = (await lab.rowOf(p))!;
        expect(crashed, "the claim is committed before the worker runs").toBeDefined();
        if (point === "before_sign") {
          expect(crashed.state).toBe("queued");
          expect(crashed.latest_tx).toBeNull();
          expect(await lab.transfersOf(crashed.id)).toBe(0);
          expect(pending.json.transaction).toBe("");
          expect(await usesOf(lab.chain, p.buyer, p.nonce)).toEqual([]);
        } else {
          // Write-ahead: the signed transaction is on record before it can reach the chain.
          expect(crashed.state).toBe("signed");
          expect(crashed.latest_tx).toMatch(/^0x[0-9a-f]{64}$/);
          expect(await lab.transfersOf(crashed.id)).toBe(1);
          expect(pending.json.transaction).toBe(crashed.latest_tx);
          expect(await usesOf(lab.chain, p.buyer, p.nonce)).toEqual(point === "after_broadcast" ? [crashed.latest_tx] : []);
        }

        const fresh = lab.spawn();
        await fresh.ready();
        const [row] = await lab.waitConfirmed([p], fresh);

        // The chain: exactly one use of this authorization, by the transaction the ledger names.
        expect(row!.settled_tx).toMatch(/^0x[0-9a-f]{64}$/);
        expect(row!.settled_by).toBe("self");
        expect(await usesOf(lab.chain, p.buyer, p.nonce)).toEqual([row!.settled_tx]);
        expect(await lab.chain.balanceOf(p.buyer)).toBe(before.buyer - PRICE);
        expect(await lab.chain.balanceOf(payTo)).toBe(before.payTo + PRICE);
        // One relayer transaction for one settlement; one signed before the crash is sent, not re-signed.
        expect(await lab.relayerNonce()).toBe(before.relayerNonce + 1);
        expect(await lab.transfersOf(row!.id)).toBe(1);
        if (point !== "before_sign") expect(row!.settled_tx).toBe(crashed.latest_tx);
        await lab.expectRelayerLaneClean();

        // The identical retry is answered from the row: success, with the hash that landed.
        const retry = await lab.fac.settle(p.body);
        expect(retry).toEqual({ status: 200, json: { success: true, payer: p.buyer, transaction: row!.settled_tx, network: NETWORK } });
        expect(await usesOf(lab.chain, p.buyer, p.nonce)).toHaveLength(1);
      } finally {
        await lab.close();
      }
    },
    CASE_TIMEOUT_MS,
  );

  it(
    "several settlements in flight when the first signed commit kills the worker: after the restart all confirm, each used once, nonces contiguous",
    async () => {
      const lab = await openLab();
      try {
        const faulty = await lab.faultyWorker("after_signed_commit");
        const payments = await Promise.all(Array.from({ length: 6 }, () => lab.newPayment()));
        const payToBefore = await lab.chain.balanceOf(payTo);
        const relayerBefore = await lab.relayerNonce();

        const answers = await Promise.all(payments.map((p) => lab.fac.settle(p.body)));
        answers.forEach((a, i) => expectPending(a, payments[i]!.buyer));
        await expectKilledBySigkill(faulty, "after_signed_commit");

        // The first signed commit killed the process: nothing reached the chain, at least one row is signed.
        const crashed = await Promise.all(payments.map(lab.rowOf));
        expect(
          crashed.every((r) => r && ["queued", "signed"].includes(r.state)),
          JSON.stringify(crashed.map((r) => r?.state)),
        ).toBe(true);
        expect(crashed.some((r) => r!.state === "signed")).toBe(true);
        expect(await lab.relayerNonce()).toBe(relayerBefore);

        const fresh = lab.spawn();
        await fresh.ready();
        const rows = await lab.waitConfirmed(payments, fresh);

        for (const [i, p] of payments.entries()) {
          expect(await usesOf(lab.chain, p.buyer, p.nonce)).toEqual([rows[i]!.settled_tx]);
          expect(await lab.chain.balanceOf(p.buyer)).toBe(FUNDED - PRICE);
          expect(await lab.transfersOf(rows[i]!.id)).toBe(1);
          // A row signed before the crash lands with the transaction it stored then.
          if (crashed[i]!.state === "signed") expect(rows[i]!.settled_tx).toBe(crashed[i]!.latest_tx);
        }
        expect(await lab.chain.balanceOf(payTo)).toBe(payToBefore + PRICE * BigInt(payments.length));
        expect(await lab.relayerNonce()).toBe(relayerBefore + payments.length);
        // One relayer nonce per settlement, contiguous from where the lane stood.
        const nonces = rows.map((r) => Number(r.relayer_nonce)).sort((a, b) => a - b);
        expect(nonces).toEqual(Array.from({ length: payments.length }, (_, i) => relayerBefore + i));
        await lab.expectRelayerLaneClean();

        const retries = await Promise.all(payments.map((p) => lab.fac.settle(p.body)));
        retries.forEach((r, i) =>
          expect(r.json).toEqual({ success: true, payer: payments[i]!.buyer, transaction: rows[i]!.settled_tx, network: NETWORK }),
        );
      } finally {
        await lab.close();
      }
    },
    CASE_TIMEOUT_MS,
  );
});
