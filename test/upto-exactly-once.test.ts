// Exactly-once for `upto` via Permit2. The payer signs a maximum; the resource server names the
// charge at /settle, so one authorization can arrive with many different charges, and the proxy
// takes its call only from the relayer the payer named. Judged from the chain: at most one
// Transfer out of the payer per Permit2 nonce, of exactly the charge the ledger recorded, sent by
// the named key; identical retries name that transaction, any other charge is a duplicate.
//
// Every case has a lab of its own (anvil chain with the Permit2 stack, facilitator, database,
// queue prefix), so the relayer audit sees only that case's transactions.
import type { Address, Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ANVIL_KEYS } from "../src/devnet/anvil.js";
import { X402_EXACT_PERMIT2_PROXY, X402_UPTO_PERMIT2_PROXY } from "../src/devnet/permit2.js";
import { permit2NonceUsed } from "./support/permit2-merchant.js";
import { FUNDED, labRunner, openPermit2Lab, TX_HASH, type Payer, type Permit2Row as Row } from "./support/permit2-lab.js";
import { killAllProcesses } from "./support/processes.js";
import { uptoPayment } from "./support/upto-payments.js";
import { expectKilledBySigkill, FAULT_POINTS, RECOVERY_MS } from "./support/worker-crash.js";

const [keyA, keyB, keyC] = [ANVIL_KEYS[0], ANVIL_KEYS[1], ANVIL_KEYS[2]];
const [relayerA, relayerB, relayerC] = [keyA, keyB, keyC].map((k) => privateKeyToAccount(k).address) as [Address, Address, Address];
const NETWORK = "eip155:84532";
const UNIT = 1_000n;
const MAXIMUM = 10n * UNIT;
/** What an `exact` payment moves when it shares the chain with upto ones. */
const PRICE = 7_000n;
const CASE_TIMEOUT_MS = 90_000;

afterAll(async () => {
  // Safety net: each lab kills its own workers; this catches anything a crashed test left.
  await killAllProcesses();
});

type UptoPayment = Payer & Awaited<ReturnType<typeof uptoPayment>>;

async function openLab(opts: Parameters<typeof openPermit2Lab>[0]) {
  const base = await openPermit2Lab(opts);
  const { chain, payTo } = base;
  const lab = {
    ...base,
    /** A fresh payer holding FUNDED tokens, Permit2 approved, and its upto authorization of MAXIMUM naming `facilitator`. */
    async newUpto(facilitator: Address = relayerA): Promise<UptoPayment> {
      const account = await base.fundedPayer();
      const payment = await uptoPayment({
        payer: account,
        facilitator,
        token: base.stack.token,
        maximum: MAXIMUM,
        payTo,
        chainId: chain.chainId,
      });
      return { payer: account.address, ...payment };
    },
    async verify(body: unknown): Promise<{ status: number; json: any }> {
      const res = await fetch(`${base.fac.url}/verify`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      return { status: res.status, json: await res.json() };
    },
    /**
     * The verdict for a confirmed upto row: the charge (not the maximum) left the payer once, to
     * payTo, by the row's own transaction to the upto proxy sent from the named relayer; the
     * Permit2 nonce is spent and the ledger holds maximum and charge apart.
     */
    async expectChargedOnce(p: UptoPayment, row: Row, charge: bigint, sender: Address) {
      expect(row).toMatchObject({ scheme: "upto", method: "permit2", state: "confirmed", settled_by: "self" });
      expect(row.value).toBe(MAXIMUM.toString());
      expect(row.charged_amount).toBe(charge.toString());
      expect(row.settled_tx).toMatch(TX_HASH);
      expect(await lab.transfersFrom(p.payer)).toEqual([{ tx: row.settled_tx, to: payTo.toLowerCase(), value: charge }]);
      const tx = await chain.client.getTransaction({ hash: row.settled_tx as Hex });
      expect(tx.to?.toLowerCase()).toBe(X402_UPTO_PERMIT2_PROXY.toLowerCase());
      expect(tx.from.toLowerCase()).toBe(sender.toLowerCase());
      expect(await lab.balanceOf(p.payer)).toBe(FUNDED - charge);
      expect(await permit2NonceUsed(chain, p.payer, p.nonce)).toBe(true);
      expect(await lab.storedTxsOf(row.id)).toBe(1);
    },
  };
  return lab;
}

type Lab = Awaited<ReturnType<typeof openLab>>;
const withLab = labRunner(openLab);

describe("concurrent /settle of one upto authorization with different charges", () => {
  it(
    "charges 1..10 × unit, each sent twice, at once: one success of one charge, one transfer of exactly it, the rest duplicates",
    async () => {
      await withLab({ worker: true }, async (lab) => {
        const p = await lab.newUpto();
        const payToBefore = await lab.balanceOf(lab.payTo);
        const nonceBefore = await lab.txCount(relayerA);
        const charges = Array.from({ length: 10 }, (_, i) => BigInt(i + 1) * UNIT);
        // The second copy of each is the server retrying its own request: only the winner's may hear its transaction.
        const sent = [...charges, ...charges];

        const answers = await Promise.all(sent.map((c) => lab.fac.settle(p.settleBody(c))));
        const [row] = await lab.waitState([p], "confirmed", 15_000);
        const tx = row!.settled_tx;
        const charged = BigInt(row!.charged_amount!);
        expect(charges).toContain(charged);
        for (const a of answers) expect(a.status, JSON.stringify(a.json)).toBe(200);

        const won = answers.flatMap((a, i) => (a.json.success === true ? [i] : []));
        expect(won, JSON.stringify(answers.map((a) => a.json))).toHaveLength(1);
        expect(sent[won[0]!]).toBe(charged);
        expect(answers[won[0]!]!.json).toEqual({
          success: true,
          payer: p.payer,
          transaction: tx,
          network: NETWORK,
          amount: charged.toString(),
        });
        for (const [i, a] of answers.entries()) {
          if (i === won[0]) continue;
          const why = JSON.stringify(a.json);
          expect(a.json, why).toMatchObject({ success: false, payer: p.payer, network: NETWORK });
          if (sent[i] === charged) {
            expect(["permit2_invalid_nonce", "settlement_pending"], why).toContain(a.json.errorReason);
            expect(a.json.transaction, why).toBe(tx);
          } else {
            expect(a.json.errorReason, why).toBe("duplicate_settlement");
            // Told before or after the winner's transaction existed: "" or that hash, never another.
            expect([tx, ""], why).toContain(a.json.transaction);
          }
        }

        await lab.expectChargedOnce(p, row!, charged, relayerA);
        expect(await lab.balanceOf(lab.payTo)).toBe(payToBefore + charged);
        expect(await lab.txCount(relayerA)).toBe(nonceBefore + 1);
        await lab.expectRelayersClean([relayerA]);

        // Afterwards every charge, the winning one included, names the real transaction and moves nothing.
        const again = await lab.fac.settle(p.settleBody(charged));
        expect(again.json).toMatchObject({ success: false, errorReason: "permit2_invalid_nonce", transaction: tx });
        const others = charges.filter((c) => c !== charged);
        for (const c of [others[0]!, others.at(-1)!]) {
          const other = await lab.fac.settle(p.settleBody(c));
          expect(other.json).toMatchObject({ success: false, errorReason: "duplicate_settlement", transaction: tx });
        }
        expect(await lab.transfersFrom(p.payer)).toHaveLength(1);
        expect((await lab.rowOf(p))!.charged_amount).toBe(charged.toString());
      });
    },
    CASE_TIMEOUT_MS,
  );
});

describe.concurrent("upto worker SIGKILLed mid-settlement, then a fresh worker process", () => {
  const CHARGE = 6n * UNIT;

  it.each(FAULT_POINTS)(
    "killed $at ($point): the charge moved once from the named key, retries name the real transaction",
    async ({ point }) => {
      // No in-process worker: the only workers are the child processes the case starts.
      await withLab({ worker: false, env: { SETTLE_WAIT_MS: "1500" } }, async (lab) => {
        // Started first: the api learns the relayer an upto payment may name from the workers' registrations.
        const faulty = lab.spawn({ FAULT_POINT: point });
        await faulty.ready();
        const p = await lab.newUpto(relayerA);
        const nonceBefore = await lab.txCount(relayerA);

        const pending = await lab.fac.settle(p.settleBody(CHARGE));
        expect(pending.status).toBe(200);
        expect(pending.json).toMatchObject({ success: false, errorReason: "settlement_pending", payer: p.payer, network: NETWORK });
        await expectKilledBySigkill(faulty, point);

        const crashed = (await lab.rowOf(p))!;
        expect(crashed, "the claim is committed before the worker runs").toBeDefined();
        expect(crashed).toMatchObject({ scheme: "upto", value: MAXIMUM.toString(), charged_amount: CHARGE.toString() });
        await lab.expectCrashLeft(p, crashed, pending, point);

        const fresh = lab.spawn();
        await fresh.ready();
        const [row] = await lab.waitState([p], "confirmed", RECOVERY_MS, fresh);

        await lab.expectChargedOnce(p, row!, CHARGE, relayerA);
        // One signed before the crash is sent as it is, not re-signed.
        if (point !== "before_sign") expect(row!.settled_tx).toBe(crashed.latest_tx);
        expect(await lab.txCount(relayerA)).toBe(nonceBefore + 1);
        await lab.expectRelayersClean([relayerA]);

        // The identical retry is answered from the row: success (never told before), with the hash and charge that landed.
        const retry = await lab.fac.settle(p.settleBody(CHARGE));
        expect(retry).toEqual({
          status: 200,
          json: { success: true, payer: p.payer, transaction: row!.settled_tx, network: NETWORK, amount: CHARGE.toString() },
        });
        const again = await lab.fac.settle(p.settleBody(CHARGE));
        expect(again.json).toMatchObject({ success: false, errorReason: "permit2_invalid_nonce", transaction: row!.settled_tx });
        const recharge = await lab.fac.settle(p.settleBody(MAXIMUM));
        expect(recharge.json).toMatchObject({ success: false, errorReason: "duplicate_settlement", transaction: row!.settled_tx });
        expect(await lab.transfersFrom(p.payer)).toHaveLength(1);
      });
    },
    CASE_TIMEOUT_MS,
  );
});

describe("which relayer key settles an upto payment", () => {
  let lab: Lab;
  beforeAll(async () => {
    // The worker holds A and B; the api is told of C as well, a key it believes some worker holds.
    lab = await openLab({
      worker: true,
      env: { RELAYER_PRIVATE_KEY: `${keyA},${keyB}`, RELAYER_ADDRESSES: [relayerA, relayerB, relayerC].join(",") },
    });
  });
  afterAll(async () => {
    await lab?.close();
  });

  it(
    "payments naming the second key go out from it although the first is idle; exact payments sent alongside still use either key",
    async () => {
      const charges = [3n * UNIT, 5n * UNIT, MAXIMUM];
      const uptos = await Promise.all(charges.map(() => lab.newUpto(relayerB)));
      const exacts = await Promise.all([lab.newExact(PRICE), lab.newExact(PRICE)]);
      const payToBefore = await lab.balanceOf(lab.payTo);
      const nonceC = await lab.txCount(relayerC);
      for (const p of uptos) expect((await lab.verify(p.verifyBody)).json).toEqual({ isValid: true, payer: p.payer });

      const answers = await Promise.all([
        ...uptos.map((p, i) => lab.fac.settle(p.settleBody(charges[i]!))),
        ...exacts.map((p) => lab.fac.settle(p.body)),
      ]);
      for (const a of answers)
        expect(a.json, JSON.stringify(a.json)).toMatchObject({ success: true, transaction: expect.stringMatching(TX_HASH) });

      const uptoRows = await lab.waitState(uptos, "confirmed", 15_000);
      for (const [i, p] of uptos.entries()) {
        await lab.expectChargedOnce(p, uptoRows[i]!, charges[i]!, relayerB);
        expect(answers[i]!.json).toMatchObject({ transaction: uptoRows[i]!.settled_tx, amount: charges[i]!.toString() });
      }
      const exactRows = await lab.waitState(exacts, "confirmed", 15_000);
      for (const [i, p] of exacts.entries()) {
        const row = exactRows[i]!;
        expect(row).toMatchObject({ scheme: "exact", method: "permit2", charged_amount: null });
        expect(await lab.transfersFrom(p.payer)).toEqual([{ tx: row.settled_tx, to: lab.payTo.toLowerCase(), value: PRICE }]);
        const tx = await lab.chain.client.getTransaction({ hash: row.settled_tx as Hex });
        expect(tx.to?.toLowerCase()).toBe(X402_EXACT_PERMIT2_PROXY.toLowerCase());
        expect([relayerA, relayerB].map((a) => a.toLowerCase())).toContain(tx.from.toLowerCase());
      }
      const total = charges.reduce((a, b) => a + b, 0n) + PRICE * BigInt(exacts.length);
      expect(await lab.balanceOf(lab.payTo)).toBe(payToBefore + total);
      expect(await lab.txCount(relayerC)).toBe(nonceC);
      await lab.expectRelayersClean([relayerA, relayerB]);
    },
    CASE_TIMEOUT_MS,
  );

  it(
    "a payment naming an address that is none of our keys is refused at /verify and /settle, and nothing is claimed",
    async () => {
      const stranger = privateKeyToAccount(generatePrivateKey()).address;
      const p = await lab.newUpto(stranger);

      expect(await lab.verify(p.verifyBody)).toEqual({
        status: 200,
        json: { isValid: false, invalidReason: "upto_facilitator_mismatch", payer: p.payer },
      });
      const settled = await lab.fac.settle(p.settleBody(UNIT));
      expect(settled.status).toBe(200);
      expect(settled.json).toMatchObject({
        success: false,
        errorReason: "upto_facilitator_mismatch",
        payer: p.payer,
        transaction: "",
        network: NETWORK,
      });
      expect(await lab.rowsOfPayer(p.payer)).toBe(0);
      expect(await lab.transfersFrom(p.payer)).toEqual([]);
      expect(await permit2NonceUsed(lab.chain, p.payer, p.nonce)).toBe(false);
    },
    CASE_TIMEOUT_MS,
  );

  it(
    "a payment naming a key the api knows but no worker holds ends failed (named_relayer_unavailable), no money moves",
    async () => {
      const p = await lab.newUpto(relayerC);
      const nonces = await Promise.all([relayerA, relayerB, relayerC].map(lab.txCount));

      expect((await lab.verify(p.verifyBody)).json).toEqual({ isValid: true, payer: p.payer });
      const settled = await lab.fac.settle(p.settleBody(4n * UNIT));
      expect(settled.status).toBe(200);
      expect(settled.json).toMatchObject({
        success: false,
        errorReason: "named_relayer_unavailable",
        payer: p.payer,
        transaction: "",
        network: NETWORK,
      });

      const row = (await lab.rowOf(p))!;
      expect(row).toMatchObject({
        scheme: "upto",
        state: "failed",
        error_reason: "named_relayer_unavailable",
        latest_tx: null,
        settled_tx: null,
      });
      expect(await lab.storedTxsOf(row.id)).toBe(0);
      // Another key could have sent it only to see the proxy revert: none tried, so no relayer nonce moved.
      expect(await Promise.all([relayerA, relayerB, relayerC].map(lab.txCount))).toEqual(nonces);
      expect(await lab.transfersFrom(p.payer)).toEqual([]);
      expect(await lab.balanceOf(p.payer)).toBe(FUNDED);
      expect(await permit2NonceUsed(lab.chain, p.payer, p.nonce)).toBe(false);

      const retry = await lab.fac.settle(p.settleBody(4n * UNIT));
      expect(retry.json).toMatchObject({ success: false, errorReason: "named_relayer_unavailable", transaction: "" });
      expect(await lab.transfersFrom(p.payer)).toEqual([]);
      await lab.expectRelayersClean([relayerA, relayerB]);
    },
    CASE_TIMEOUT_MS,
  );
});

describe("a charge of 0", () => {
  it(
    "sent twice at once: one success without a transaction, nothing on chain, and the authorization can no longer be charged",
    async () => {
      await withLab({ worker: true }, async (lab) => {
        const p = await lab.newUpto();
        const nonceBefore = await lab.txCount(relayerA);

        const answers = await Promise.all([lab.fac.settle(p.settleBody(0n)), lab.fac.settle(p.settleBody(0n))]);
        const won = answers.filter((a) => a.json.success === true);
        expect(
          won.map((a) => a.json),
          JSON.stringify(answers.map((a) => a.json)),
        ).toEqual([{ success: true, payer: p.payer, transaction: "", network: NETWORK, amount: "0" }]);
        const lost = answers.find((a) => a.json.success !== true)!;
        expect(lost.json).toMatchObject({ success: false, errorReason: "permit2_invalid_nonce", payer: p.payer, transaction: "" });

        const row = (await lab.rowOf(p))!;
        expect(row).toMatchObject({ scheme: "upto", state: "confirmed", value: MAXIMUM.toString(), charged_amount: "0", settled_tx: null });

        // Any charge after that is the same authorization in a different request.
        for (const c of [UNIT, MAXIMUM]) {
          const charge = await lab.fac.settle(p.settleBody(c));
          expect(charge.json).toMatchObject({ success: false, errorReason: "duplicate_settlement", payer: p.payer, transaction: "" });
        }
        expect((await lab.verify(p.verifyBody)).json).toMatchObject({ isValid: false, invalidReason: "permit2_invalid_nonce" });

        // A few reconciler passes later (1 s apart in the test worker), the row is still settled as claimed and nothing was sent.
        await new Promise((r) => setTimeout(r, 3_000));
        const later = (await lab.rowOf(p))!;
        expect(later).toMatchObject({ state: "confirmed", charged_amount: "0", latest_tx: null, settled_tx: null });
        expect(await lab.storedTxsOf(row.id)).toBe(0);
        expect(await lab.transfersFrom(p.payer)).toEqual([]);
        expect(await lab.balanceOf(p.payer)).toBe(FUNDED);
        expect(await permit2NonceUsed(lab.chain, p.payer, p.nonce)).toBe(false);
        expect(await lab.txCount(relayerA)).toBe(nonceBefore);
        await lab.expectRelayersClean([relayerA]);
      });
    },
    CASE_TIMEOUT_MS,
  );
});
