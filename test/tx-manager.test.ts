// The relayer transaction manager on a chain that misbehaves: base fee spikes, dropped
// transactions, reorgs and authorizations that expire in the queue.
import { parseGwei } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ANVIL_KEYS } from "../src/devnet/anvil.js";
import { startTestChain, type TestChain } from "./support/chain.js";
import { relayerNonce, usesOf } from "./support/chain-facts.js";
import { startFacilitator, type TestFacilitator } from "./support/facilitator.js";
import { baseSepoliaFile } from "./support/networks-file.js";
import { fundedPayment, now } from "./support/payments.js";

let chain: TestChain;
let fac: TestFacilitator | undefined;
const relayer = privateKeyToAccount(ANVIL_KEYS[0]).address;
const payTo = privateKeyToAccount(ANVIL_KEYS[3]).address;
const PRICE = 30_000n;

beforeAll(async () => {
  chain = await startTestChain();
});
afterEach(async () => {
  await fac?.close();
  fac = undefined;
  await chain.test.setAutomine(true);
});
afterAll(async () => chain?.stop());

const payment = (validBefore?: bigint) => fundedPayment(chain, { payTo, value: PRICE, validBefore });

async function rowFor(payer: string, nonce: string, until: (row: any) => boolean, timeoutMs = 20_000, tick?: () => Promise<void>) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const res = await fac!.admin(`/settlements/by-authorization?network=eip155:84532&payer=${payer}&nonce=${nonce}`);
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
    fac = await startFacilitator(chain, {
      NETWORKS_FILE: baseSepoliaFile(chain, { replaceAfterSeconds: 1, maxFeePerGas: cap.toString() }),
      SETTLE_WAIT_MS: "500",
    });
    const p = await payment();
    await chain.test.setAutomine(false);
    const first = await fac.settle(p.body);
    expect(first.json).toMatchObject({ errorReason: "settlement_pending", transaction: expect.stringMatching(/^0x/) });
    // A block whose base fee no offer so far can pay: the first transaction stays out.
    await chain.test.request({ method: "anvil_setNextBlockBaseFeePerGas", params: [`0x${parseGwei("20").toString(16)}`] } as never);
    await chain.test.mine({ blocks: 1 });
    expect(await usesOf(chain, p.buyer.address, p.authorization.nonce)).toEqual([]);
    const replaced = await rowFor(p.buyer.address, p.authorization.nonce, (r) => r.transactions.length >= 2, 20_000);
    expect(replaced.transactions.length).toBeGreaterThanOrEqual(2);
    const [a, b] = replaced.transactions;
    expect(BigInt(b.maxFeePerGas) * 1000n).toBeGreaterThanOrEqual(BigInt(a.maxFeePerGas) * 1125n);
    expect(BigInt(b.maxPriorityFeePerGas) * 1000n).toBeGreaterThanOrEqual(BigInt(a.maxPriorityFeePerGas) * 1125n);
    expect(a.relayerNonce).toBe(b.relayerNonce);
    expect(BigInt(b.maxFeePerGas)).toBe(cap);
    const done = await rowFor(
      p.buyer.address,
      p.authorization.nonce,
      (r) => r.state === "confirmed",
      30_000,
      () => chain.test.mine({ blocks: 1 }),
    );
    expect(done.state).toBe("confirmed");
    for (const t of done.transactions) expect(BigInt(t.maxFeePerGas)).toBeLessThanOrEqual(cap);
    expect(done.transactions.map((t: { hash: string }) => t.hash)).toContain(done.transaction);
    expect(await usesOf(chain, p.buyer.address, p.authorization.nonce)).toEqual([done.transaction]);
    expect((await fac.settle(p.body)).json).toMatchObject({ success: true, transaction: done.transaction });
  });
});

describe("dropped and reorged transactions", () => {
  it("a dropped transaction is rebroadcast from the stored raw bytes and confirms", async () => {
    fac = await startFacilitator(chain, { SETTLE_WAIT_MS: "500" });
    const p = await payment();
    await chain.test.setAutomine(false);
    const first = await fac.settle(p.body);
    const hash = first.json.transaction as `0x${string}`;
    expect(hash).toMatch(/^0x[0-9a-f]{64}$/);
    await chain.test.request({ method: "anvil_dropTransaction", params: [hash] } as never);
    await chain.test.mine({ blocks: 1 });
    expect(await usesOf(chain, p.buyer.address, p.authorization.nonce)).toEqual([]);
    const done = await rowFor(
      p.buyer.address,
      p.authorization.nonce,
      (r) => r.state === "confirmed",
      30_000,
      () => chain.test.mine({ blocks: 1 }),
    );
    expect(done).toMatchObject({ state: "confirmed", transaction: hash });
    expect(done.transactions).toHaveLength(1);
    expect(await usesOf(chain, p.buyer.address, p.authorization.nonce)).toEqual([hash]);
  });

  it("a shallow reorg sends a mined settlement back to submitted, and it re-mines and confirms", async () => {
    fac = await startFacilitator(chain, { NETWORKS_FILE: baseSepoliaFile(chain, { confirmations: 3 }) });
    const p = await payment();
    const res = await fac.settle(p.body);
    expect(res.json.success).toBe(true);
    const mined = await rowFor(p.buyer.address, p.authorization.nonce, (r) => r.state === "mined");
    expect(mined.state).toBe("mined");
    await chain.test.request({ method: "anvil_reorg", params: [1, []] } as never);
    const back = await rowFor(
      p.buyer.address,
      p.authorization.nonce,
      (r) => r.events.some((e: { detail?: { reorg?: boolean } }) => e.detail?.reorg),
      20_000,
      () => chain.test.mine({ blocks: 1 }),
    );
    expect(back.events.some((e: { from: string; to: string }) => e.from === "mined" && e.to === "submitted")).toBe(true);
    const done = await rowFor(
      p.buyer.address,
      p.authorization.nonce,
      (r) => r.state === "confirmed",
      30_000,
      () => chain.test.mine({ blocks: 1 }),
    );
    expect(done.state).toBe("confirmed");
    expect(await usesOf(chain, p.buyer.address, p.authorization.nonce)).toEqual([done.transaction]);
  });
});

describe("deep reorg", () => {
  it("a reorg deeper than the confirmation depth sends a confirmed settlement to needs_review", async () => {
    fac = await startFacilitator(chain, { NETWORKS_FILE: baseSepoliaFile(chain, { confirmations: 2 }) }, { worker: false });
    await fac.startWorker({}, { auditIntervalMs: 300 });
    const p = await payment();
    expect((await fac.settle(p.body)).json.success).toBe(true);
    const confirmed = await rowFor(
      p.buyer.address,
      p.authorization.nonce,
      (r) => r.state === "confirmed",
      20_000,
      () => chain.test.mine({ blocks: 1 }),
    );
    expect(confirmed.state).toBe("confirmed");
    await chain.test.request({ method: "anvil_reorg", params: [4, []] } as never);
    const flagged = await rowFor(p.buyer.address, p.authorization.nonce, (r) => r.state === "needs_review");
    expect(flagged).toMatchObject({ state: "needs_review", errorReason: "reorged_after_confirmation" });
    expect(flagged.events.at(-1)).toMatchObject({ from: "confirmed", to: "needs_review" });
  });
});

describe("expiry", () => {
  it("an authorization that expires while queued ends expired: no transaction, no nonce gap", async () => {
    fac = await startFacilitator(chain, { SETTLE_WAIT_MS: "300" }, { worker: false });
    const p = await payment(now() + 60n);
    expect((await fac.settle(p.body)).json).toMatchObject({ errorReason: "settlement_pending" });
    const nonceBefore = await relayerNonce(chain, relayer);
    const head = await chain.client.getBlock();
    await chain.test.setNextBlockTimestamp({ timestamp: head.timestamp + 600n });
    await chain.test.mine({ blocks: 1 });
    await fac.startWorker();
    const row = await rowFor(p.buyer.address, p.authorization.nonce, (r) => r.state === "expired");
    expect(row).toMatchObject({
      state: "expired",
      errorReason: "invalid_exact_evm_payload_authorization_valid_before",
      latestTransaction: null,
    });
    expect(await relayerNonce(chain, relayer)).toBe(nonceBefore);
    const [lane] = await fac.sql<{ next_nonce: string }[]>`select next_nonce from relayer_nonces where address = ${relayer.toLowerCase()}`;
    expect(BigInt(lane!.next_nonce)).toBe(BigInt(nonceBefore));
  });
});
