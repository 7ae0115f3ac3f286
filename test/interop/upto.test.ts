// Interop for `upto` via Permit2: the official @x402/express@2 merchant (upto server scheme,
// charge named after the handler through Settlement-Overrides) and @x402/fetch@2 buyer (upto
// client scheme) against our facilitator over HTTP, with the real api and worker, on anvil with
// Permit2 and the x402 upto proxy at their canonical addresses. A recording proxy sits between
// merchant and facilitator so each case can also say what the middleware asked us.
import { parseEventLogs, type Address, type Hash } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { ANVIL_KEYS } from "../../src/devnet/anvil.js";
import { deployPermit2Stack, X402_UPTO_PERMIT2_PROXY, x402UptoPermit2ProxyAbi, type Permit2Stack } from "../../src/devnet/permit2.js";
import { replay } from "../support/buyers.js";
import { startFacilitator } from "../support/facilitator.js";
import { startFacilitatorProxy } from "../support/facilitator-proxy.js";
import { useLab } from "../support/lab.js";
import { V2_NETWORK } from "../support/merchant.js";
import {
  approvePermit2,
  confirmedRows,
  ledgerRows,
  permit2Allowance,
  permit2NetworksFile,
  permit2NonceUsed,
  tokenBalance,
} from "../support/permit2-merchant.js";
import { payUpto, startUptoMerchant, uptoLedgerRows, type UptoAttempt } from "../support/upto-merchant.js";

const MAXIMUM = 10_000n;
const TX_HASH = /^0x[0-9a-f]{64}$/;
const RELAYER = privateKeyToAccount(ANVIL_KEYS[0]).address;

const lab = useLab();
let stack: Permit2Stack;

beforeAll(async () => {
  // Before any facilitator: placing Permit2 briefly switches the chain id.
  stack = await deployPermit2Stack(lab.chain.rpcUrl);
});

async function setup(charge: bigint) {
  const payerKey = generatePrivateKey();
  const payer = privateKeyToAccount(payerKey);
  const payTo = privateKeyToAccount(generatePrivateKey()).address;
  const token = stack.token;
  await stack.mint(payer.address, 1_000_000n);
  const fac = (lab.fac = await startFacilitator(lab.chain, { NETWORKS_FILE: permit2NetworksFile(lab.chain, stack) }));
  const proxy = await startFacilitatorProxy(fac.url);
  onTestFinished(() => proxy.close());
  const merchant = await startUptoMerchant({ facilitatorUrl: proxy.url, token, maximum: MAXIMUM, payTo, charge: () => charge });
  onTestFinished(() => merchant.close());
  const balances = () =>
    Promise.all([tokenBalance(lab.chain, token.address, payer.address), tokenBalance(lab.chain, token.address, payTo)]);
  const pay = () => payUpto(merchant.paidUrl, payer, lab.chain.rpcUrl, token.address);
  const approve = () => approvePermit2(lab.chain, token.address, payerKey);
  return { payer, fac, proxy, merchant, balances, pay, approve };
}

const nonceOf = (a: UptoAttempt) => BigInt(a.payload.payload.permit2Authorization.nonce);

/** A 200 with the content and a successful receipt naming the payer and the charge. */
function expectServed(a: UptoAttempt, payer: Address, charge: bigint) {
  expect(a.status, `status (reason: ${a.reason ?? "-"})`).toBe(200);
  expect(a.body).toEqual({ content: "metered content" });
  expect(a.receiptHeaderName).toBe("PAYMENT-RESPONSE");
  expect(a.receipt).toMatchObject({ success: true, network: V2_NETWORK, amount: charge.toString() });
  expect(a.receipt!.payer?.toLowerCase()).toBe(payer.toLowerCase());
}

describe("upto via Permit2, @x402/fetch@2 -> @x402/express@2 -> our facilitator", () => {
  it("a payer without Permit2 allowance gets 412 (permit2_allowance_required); nothing moves, nothing is recorded", async () => {
    const { payer, fac, proxy, merchant, balances, pay } = await setup(4_000n);
    expect(await permit2Allowance(lab.chain, stack.token.address, payer.address)).toBe(0n);
    const before = await balances();

    const a = await pay();
    // The client did sign an upto authorization naming our relayer: the refusal came from verify.
    expect(a.payload?.payload?.permit2Authorization).toMatchObject({
      from: payer.address,
      spender: X402_UPTO_PERMIT2_PROXY,
      permitted: { amount: MAXIMUM.toString() },
      witness: { facilitator: RELAYER },
    });
    expect(a.status, `status (reason: ${a.reason ?? "-"})`).toBe(412);
    expect(a.reason).toBe("permit2_allowance_required");
    expect(await balances()).toEqual(before);
    expect(await permit2NonceUsed(lab.chain, payer.address, nonceOf(a))).toBe(false);
    expect(merchant.handled()).toBe(0);
    expect(proxy.callsTo("/settle")).toEqual([]);
    expect(await ledgerRows(fac, payer.address)).toEqual([]);
  });

  it("a charge below the maximum moves exactly the charge, sent by our relayer through the upto proxy", async () => {
    const charge = 3_456n;
    const { payer, fac, proxy, merchant, balances, pay, approve } = await setup(charge);
    await approve();
    const [payerBefore, payToBefore] = await balances();

    const a = await pay();
    expectServed(a, payer.address, charge);
    expect(a.receipt!.transaction).toMatch(TX_HASH);
    expect(await balances()).toEqual([payerBefore! - charge, payToBefore! + charge]);
    expect(merchant.charges).toEqual([charge]);

    // The middleware verifies the maximum and settles the charge, with the same signed payload.
    const [verify] = proxy.callsTo("/verify");
    const [settle] = proxy.callsTo("/settle");
    expect(verify!.requestBody.paymentRequirements).toMatchObject({ scheme: "upto", amount: MAXIMUM.toString() });
    expect(settle!.requestBody.paymentRequirements).toMatchObject({ scheme: "upto", amount: charge.toString() });
    expect(settle!.requestBody.paymentPayload).toEqual(verify!.requestBody.paymentPayload);

    const hash = a.receipt!.transaction as Hash;
    const [tx, receipt] = await Promise.all([lab.chain.client.getTransaction({ hash }), lab.chain.client.getTransactionReceipt({ hash })]);
    expect(receipt.status).toBe("success");
    // The proxy only lets the facilitator the payer named send the settlement.
    expect(tx.from.toLowerCase()).toBe(RELAYER.toLowerCase());
    expect(tx.to?.toLowerCase()).toBe(X402_UPTO_PERMIT2_PROXY.toLowerCase());
    const settled = parseEventLogs({ abi: x402UptoPermit2ProxyAbi, logs: receipt.logs, eventName: "Settled" });
    expect(settled.map((l) => l.address.toLowerCase())).toEqual([X402_UPTO_PERMIT2_PROXY.toLowerCase()]);
    expect(await permit2NonceUsed(lab.chain, payer.address, nonceOf(a))).toBe(true);

    await confirmedRows(fac, payer.address);
    expect(await uptoLedgerRows(fac, payer.address)).toEqual([
      {
        scheme: "upto",
        method: "permit2",
        state: "confirmed",
        value: MAXIMUM.toString(),
        charged_amount: charge.toString(),
        settled_tx: expect.stringMatching(new RegExp(`^${hash}$`, "i")),
      },
    ]);
  });

  it("a charge of 0 serves the content with no transaction: nothing moves, the nonce stays unused", async () => {
    const { payer, fac, proxy, merchant, balances, pay, approve } = await setup(0n);
    await approve();
    const before = await balances();
    const blockBefore = await lab.chain.client.getBlockNumber();

    const a = await pay();
    expectServed(a, payer.address, 0n);
    expect(a.receipt!.transaction).toBe("");
    expect(await balances()).toEqual(before);
    expect(await lab.chain.client.getBlockNumber()).toBe(blockBefore);
    expect(await permit2NonceUsed(lab.chain, payer.address, nonceOf(a))).toBe(false);
    expect(merchant.handled()).toBe(1);
    expect(proxy.callsTo("/settle").map((c) => c.requestBody.paymentRequirements.amount)).toEqual(["0"]);

    await confirmedRows(fac, payer.address);
    expect(await uptoLedgerRows(fac, payer.address)).toEqual([
      { scheme: "upto", method: "permit2", state: "confirmed", value: MAXIMUM.toString(), charged_amount: "0", settled_tx: null },
    ]);
  });

  it("a charge above the maximum is refused after the handler ran: a 402 with a failed receipt, nothing moves, nothing is recorded", async () => {
    const { payer, fac, proxy, merchant, balances, pay, approve } = await setup(MAXIMUM + 1n);
    await approve();
    const before = await balances();

    const a = await pay();
    // Settlement failure after the handler: the middleware drops the buffered content and answers
    // 402 with an empty body, the reason only in the failed PAYMENT-RESPONSE.
    expect(a.status).toBe(402);
    expect(a.body).toEqual({});
    expect(a.receipt).toMatchObject({ success: false, transaction: "" });
    expect(a.reason).toBe("invalid_upto_evm_payload_settlement_exceeds_amount");
    expect(merchant.handled()).toBe(1);
    // The middleware does not hold the override to the maximum itself: refusing it is ours.
    expect(proxy.callsTo("/settle").map((c) => [c.requestBody.paymentRequirements.amount, c.status, c.responseBody.errorReason])).toEqual([
      [(MAXIMUM + 1n).toString(), 200, "invalid_upto_evm_payload_settlement_exceeds_amount"],
    ]);

    expect(await balances()).toEqual(before);
    expect(await permit2NonceUsed(lab.chain, payer.address, nonceOf(a))).toBe(false);
    expect(await uptoLedgerRows(fac, payer.address)).toEqual([]);
  });

  it("replaying the captured PAYMENT-SIGNATURE of a paid request is refused and moves no money", async () => {
    const charge = 2_500n;
    const { payer, proxy, merchant, balances, pay, approve } = await setup(charge);
    await approve();
    const paid = await pay();
    expectServed(paid, payer.address, charge);
    const after = await balances();

    const again = await replay(merchant.paidUrl, "PAYMENT-SIGNATURE", paid.paymentHeader!);
    expect(again.status, `status (reason: ${again.reason ?? "-"})`).toBe(402);
    expect(again.reason).toBe("permit2_invalid_nonce");
    expect(again.body).toEqual({});
    expect(await balances()).toEqual(after);
    // Refused at verify: the handler did not serve it again and nothing was settled a second time.
    expect(merchant.handled()).toBe(1);
    expect(proxy.callsTo("/verify")).toHaveLength(2);
    expect(proxy.callsTo("/settle")).toHaveLength(1);
  });
});
