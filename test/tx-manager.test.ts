// The relayer transaction manager on a chain that misbehaves: base fee spikes, dropped
// transactions, reorgs and authorizations that expire in the queue.
import { parseGwei } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import { ANVIL_KEYS } from "../src/devnet/anvil.js";
import { relayerNonce, usesOf } from "./support/chain-facts.js";
import { startFacilitator } from "./support/facilitator.js";
import { useLab } from "./support/lab.js";
import { baseSepoliaFile } from "./support/networks-file.js";
import { fundedPayment, now } from "./support/payments.js";

const relayer = privateKeyToAccount(ANVIL_KEYS[0]).address;
const payTo = privateKeyToAccount(ANVIL_KEYS[3]).address;
const PRICE = 30_000n;

const lab = useLab();

const payment = (validBefore?: bigint) => fundedPayment(lab.chain, { payTo, value: PRICE, validBefore });

/** Mines a block at a time until the payment's row is confirmed. */
const confirmedWhileMining = (p: { buyer: { address: string }; authorization: { nonce: string } }) =>
  rowFor(
    p.buyer.address,
    p.authorization.nonce,
    (r) => r.state === "confirmed",
    30_000,
    () => lab.chain.test.mine({ blocks: 1 }),
  );

async function rowFor(payer: string, nonce: string, until: (row: any) => boolean, timeoutMs = 20_000, tick?: () => Promise<void>) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const res = await lab.fac!.admin(`/settlements/by-authorization?network=eip155:84532&payer=${payer}&nonce=${nonce}`);
    const row = res.json.items?.[0];
    if ((row && until(row)) || Date.now() > end) return row;
    await tick?.();
    await new Promise((r) => setTimeout(r, 150));
  }
}

describe("fees", () => {
  it("a base fee above the first offer gets the tx replaced with a ≥12.5% bump; the ceiling holds", async () => {
    // The market asks for more than 22 gwei once the base fee is 20: the ceiling must bind.
    const cap = parseGwei("22");
    lab.fac = await startFacilitator(lab.chain, {
      NETWORKS_FILE: baseSepoliaFile(lab.chain, { replaceAfterSeconds: 1, maxFeePerGas: cap.toString() }),
      SETTLE_WAIT_MS: "500",
    });
    const p = await payment();
    await lab.chain.test.setAutomine(false);
    const first = await lab.fac.settle(p.body);
    expect(first.json).toMatchObject({ errorReason: "settlement_pending", transaction: expect.stringMatching(/^0x/) });
    // A block whose base fee no offer so far can pay: the first transaction stays out.
    await lab.chain.test.request({ method: "anvil_setNextBlockBaseFeePerGas", params: [`0x${parseGwei("20").toString(16)}`] } as never);
    await lab.chain.test.mine({ blocks: 1 });
    expect(await usesOf(lab.chain, p.buyer.address, p.authorization.nonce)).toEqual([]);
    const replaced = await rowFor(p.buyer.address, p.authorization.nonce, (r) => r.transactions.length >= 2, 20_000);
    expect(replaced.transactions.length).toBeGreaterThanOrEqual(2);
    const [a, b] = replaced.transactions;
    expect(BigInt(b.maxFeePerGas) * 1000n).toBeGreaterThanOrEqual(BigInt(a.maxFeePerGas) * 1125n);
    expect(BigInt(b.maxPriorityFeePerGas) * 1000n).toBeGreaterThanOrEqual(BigInt(a.maxPriorityFeePerGas) * 1125n);
    expect(a.relayerNonce).toBe(b.relayerNonce);
    expect(BigInt(b.maxFeePerGas)).toBe(cap);
    const done = await confirmedWhileMining(p);
    expect(done.state).toBe("confirmed");
    for (const t of done.transactions) expect(BigInt(t.maxFeePerGas)).toBeLessThanOrEqual(cap);
    expect(done.transactions.map((t: { hash: string }) => t.hash)).toContain(done.transaction);
    expect(await usesOf(lab.chain, p.buyer.address, p.authorization.nonce)).toEqual([done.transaction]);
    expect((await lab.fac.settle(p.body)).json).toMatchObject({ success: true, transaction: done.transaction });
  });
});

describe("dropped and reorged transactions", () => {
  it("a dropped transaction is rebroadcast from the stored raw bytes and confirms", async () => {
    lab.fac = await startFacilitator(lab.chain, { SETTLE_WAIT_MS: "500" });
    const p = await payment();
    await lab.chain.test.setAutomine(false);
    const first = await lab.fac.settle(p.body);
    const hash = first.json.transaction as `0x${string}`;
    expect(hash).toMatch(/^0x[0-9a-f]{64}$/);
    await lab.chain.test.request({ method: "anvil_dropTransaction", params: [hash] } as never);
    await lab.chain.test.mine({ blocks: 1 });
    expect(await usesOf(lab.chain, p.buyer.address, p.authorization.nonce)).toEqual([]);
    const done = await confirmedWhileMining(p);
    expect(done).toMatchObject({ state: "confirmed", transaction: hash });
    expect(done.transactions).toHaveLength(1);
    expect(await usesOf(lab.chain, p.buyer.address, p.authorization.nonce)).toEqual([hash]);
  });

  it("a shallow reorg sends a mined settlement back to submitted, and it re-mines and confirms", async () => {
    lab.fac = await startFacilitator(lab.chain, { NETWORKS_FILE: baseSepoliaFile(lab.chain, { confirmations: 3 }) });
    const p = await payment();
    const res = await lab.fac.settle(p.body);
    expect(res.json.success).toBe(true);
    const mined = await rowFor(p.buyer.address, p.authorization.nonce, (r) => r.state === "mined");
    expect(mined.state).toBe("mined");
    await lab.chain.test.request({ method: "anvil_reorg", params: [1, []] } as never);
    const back = await rowFor(
      p.buyer.address,
      p.authorization.nonce,
      (r) => r.events.some((e: { detail?: { reorg?: boolean } }) => e.detail?.reorg),
      20_000,
      () => lab.chain.test.mine({ blocks: 1 }),
    );
    expect(back.events.some((e: { from: string; to: string }) => e.from === "mined" && e.to === "submitted")).toBe(true);
    const done = await confirmedWhileMining(p);
    expect(done.state).toBe("confirmed");
    expect(await usesOf(lab.chain, p.buyer.address, p.authorization.nonce)).toEqual([done.transaction]);
  });
});

describe("deep reorg", () => {
  it("a reorg deeper than the confirmation depth sends a confirmed settlement to needs_review", async () => {
    lab.fac = await startFacilitator(lab.chain, { NETWORKS_FILE: baseSepoliaFile(lab.chain, { confirmations: 2 }) }, { worker: false });
    await lab.fac.startWorker({}, { auditIntervalMs: 300 });
    const p = await payment();
    expect((await lab.fac.settle(p.body)).json.success).toBe(true);
    const confirmed = await rowFor(
      p.buyer.address,
      p.authorization.nonce,
      (r) => r.state === "confirmed",
      20_000,
      () => lab.chain.test.mine({ blocks: 1 }),
    );
    expect(confirmed.state).toBe("confirmed");
    await lab.chain.test.request({ method: "anvil_reorg", params: [4, []] } as never);
    const flagged = await rowFor(p.buyer.address, p.authorization.nonce, (r) => r.state === "needs_review");
    expect(flagged).toMatchObject({ state: "needs_review", errorReason: "reorged_after_confirmation" });
    expect(flagged.events.at(-1)).toMatchObject({ from: "confirmed", to: "needs_review" });
  });
});

describe("expiry", () => {
  it("an authorization that expires while queued ends expired: no transaction, no nonce gap", async () => {
    lab.fac = await startFacilitator(lab.chain, { SETTLE_WAIT_MS: "300" }, { worker: false });
    const p = await payment(now() + 60n);
    expect((await lab.fac.settle(p.body)).json).toMatchObject({ errorReason: "settlement_pending" });
    const nonceBefore = await relayerNonce(lab.chain, relayer);
    const head = await lab.chain.client.getBlock();
    await lab.chain.test.setNextBlockTimestamp({ timestamp: head.timestamp + 600n });
    await lab.chain.test.mine({ blocks: 1 });
    await lab.fac.startWorker();
    const row = await rowFor(p.buyer.address, p.authorization.nonce, (r) => r.state === "expired");
    expect(row).toMatchObject({
      state: "expired",
      errorReason: "invalid_exact_evm_payload_authorization_valid_before",
      latestTransaction: null,
    });
    expect(await relayerNonce(lab.chain, relayer)).toBe(nonceBefore);
    const [lane] = await lab.fac.sql<
      { next_nonce: string }[]
    >`select next_nonce from relayer_nonces where address = ${relayer.toLowerCase()}`;
    expect(BigInt(lane!.next_nonce)).toBe(BigInt(nonceBefore));
  });
});
