// Solana `exact` end to end against the SIMULATED cluster (LiteSVM behind a JSON-RPC server, the
// one seam that is not a real validator): the official client signs, our api verifies and
// claims, our worker co-signs as fee payer, sends and confirms; balances are read back.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { generateKeyPairSigner } from "@solana/kit";
import { fundedBuyer, startLocalSolana, type LocalSolana } from "./support/solana.js";
import {
  newMerchant,
  officialPayment,
  startSolanaFacilitator,
  svmRequirements,
  type SolanaFacilitator,
} from "./support/solana-facilitator.js";

let local: LocalSolana;
let fac: SolanaFacilitator | undefined;

beforeAll(async () => {
  local = await startLocalSolana({ slotMs: 100 });
});
afterEach(async () => {
  await fac?.close();
  fac = undefined;
});
afterAll(async () => local?.close());

const merchant = () => newMerchant(local);
const requirementsFor = (f: SolanaFacilitator, payTo: string, amount?: string) => svmRequirements(local, f, payTo, amount);

describe("Solana exact", () => {
  it("/supported lists the v1 and v2 kinds with our fee payer, and the solana signers", async () => {
    fac = await startSolanaFacilitator(local);
    const res = await fetch(`${fac.url}/supported`);
    const body = (await res.json()) as {
      kinds: { x402Version: number; scheme: string; network: string; extra?: { feePayer?: string } }[];
      signers: Record<string, string[]>;
    };
    expect(body.kinds).toContainEqual({ x402Version: 2, scheme: "exact", network: local.caip2, extra: { feePayer: fac.feePayer.address } });
    expect(body.kinds).toContainEqual({
      x402Version: 1,
      scheme: "exact",
      network: "solana-devnet",
      extra: { feePayer: fac.feePayer.address },
    });
    expect(body.signers["solana:*"]).toEqual([fac.feePayer.address]);
  });

  it("verifies and settles a payment: exact token balances, the fee payer pays the fee, the buyer no SOL", async () => {
    fac = await startSolanaFacilitator(local);
    const buyer = await fundedBuyer(local, { usdc: 1_000_000n });
    const payTo = await merchant();
    const body = await officialPayment(local, buyer.signer, requirementsFor(fac, payTo));
    const verified = await fac.post("/verify", body);
    expect(verified.json).toEqual({ isValid: true, payer: buyer.address });

    const feePayerBefore = await local.cluster.solBalance(fac.feePayer.address);
    const settled = await fac.post("/settle", body);
    expect(settled.json).toMatchObject({ success: true, payer: buyer.address, network: local.caip2 });
    expect(settled.json.transaction).toMatch(/^[1-9A-HJ-NP-Za-km-z]{64,88}$/);
    expect(await local.cluster.tokenBalance(local.usdc, buyer.address)).toBe(990_000n);
    expect(await local.cluster.tokenBalance(local.usdc, payTo)).toBe(10_000n);
    expect(await local.cluster.solBalance(buyer.address)).toBe(0n);
    // Two signatures (fee payer and buyer) and 20,000 units at 1 micro-lamport: 10,001 lamports.
    expect(feePayerBefore - (await local.cluster.solBalance(fac.feePayer.address))).toBe(10_001n);

    // Success is answered once the transfer is committed (mined); confirmed follows a moment later.
    await expect.poll(async () => (await fac!.sql`select state from settlements`)[0]?.state, { timeout: 10_000 }).toBe("confirmed");
    const [row] = await fac.sql`select state, latest_tx, settled_tx, chain_id from settlements`;
    expect(row).toMatchObject({
      state: "confirmed",
      latest_tx: settled.json.transaction,
      settled_tx: settled.json.transaction,
      chain_id: -102,
    });
    const events = await fac.sql`select to_state, detail from settlement_events order by id`;
    expect(events.map((e) => e.to_state)).toEqual(
      ["received", "queued", "signed", "submitted", "mined", "confirmed"].filter((s) => events.some((e) => e.to_state === s)),
    );
    expect(events.at(-1)).toMatchObject({ to_state: "confirmed", detail: { feeLamports: "10001" } });

    // The same payment again: reported once, never sent twice.
    const replay = await fac.post("/settle", body);
    expect(replay.json).toMatchObject({ success: false, errorReason: "duplicate_settlement" });
    expect(await local.cluster.tokenBalance(local.usdc, payTo)).toBe(10_000n);
  });

  it("concurrent identical settles give one transaction and one success", async () => {
    fac = await startSolanaFacilitator(local);
    const buyer = await fundedBuyer(local, { usdc: 1_000_000n });
    const payTo = await merchant();
    const body = await officialPayment(local, buyer.signer, requirementsFor(fac, payTo, "25000"));
    const answers = await Promise.all(Array.from({ length: 8 }, () => fac!.post("/settle", body)));
    expect(answers.filter((a) => a.json.success === true)).toHaveLength(1);
    expect(new Set(answers.map((a) => a.json.transaction).filter(Boolean)).size).toBe(1);
    expect(await local.cluster.tokenBalance(local.usdc, payTo)).toBe(25_000n);
    const rows = await fac.sql`select count(*)::int as n from settlements`;
    expect(rows[0]!.n).toBe(1);
  });

  it("a transaction whose blockhash expires before it is sent ends expired, and nothing is paid", async () => {
    fac = await startSolanaFacilitator(local, { SETTLE_WAIT_MS: "1000" }, { worker: false });
    const buyer = await fundedBuyer(local, { usdc: 1_000_000n });
    const payTo = await merchant();
    const body = await officialPayment(local, buyer.signer, requirementsFor(fac, payTo));
    // No worker yet: the claim is answered pending (no transaction) and waits in the ledger.
    const first = await fac.post("/settle", body);
    expect(first.json).toMatchObject({ success: false, errorReason: "settlement_pending" });
    local.cluster.warp(300);
    await fac.startWorker();
    await expect.poll(async () => (await fac!.sql`select state from settlements`)[0]?.state, { timeout: 15_000 }).toBe("expired");
    const retry = await fac.post("/settle", body);
    expect(retry.json).toMatchObject({ success: false, errorReason: "invalid_exact_svm_blockhash_expired" });
    expect(await local.cluster.tokenBalance(local.usdc, payTo)).toBe(0n);
    expect(await local.cluster.tokenBalance(local.usdc, buyer.address)).toBe(1_000_000n);
  });

  it("refuses a payment naming a fee payer we do not hold, or asking another amount", async () => {
    fac = await startSolanaFacilitator(local);
    const buyer = await fundedBuyer(local, { usdc: 1_000_000n });
    const payTo = await merchant();
    const stranger = (await generateKeyPairSigner()).address;
    const foreign = await officialPayment(local, buyer.signer, { ...requirementsFor(fac, payTo), extra: { feePayer: stranger } });
    expect((await fac.post("/verify", foreign)).json).toMatchObject({
      isValid: false,
      invalidReason: "invalid_exact_svm_fee_payer_not_managed_by_facilitator",
    });
    const body = await officialPayment(local, buyer.signer, requirementsFor(fac, payTo));
    const asksMore = { ...body, paymentRequirements: { ...body.paymentRequirements, amount: "20000" } };
    asksMore.paymentPayload = { ...body.paymentPayload, accepted: asksMore.paymentRequirements };
    expect((await fac.post("/settle", asksMore)).json).toMatchObject({
      success: false,
      errorReason: "invalid_exact_svm_payload_amount_mismatch",
    });
    expect(await local.cluster.tokenBalance(local.usdc, payTo)).toBe(0n);
  });
});
