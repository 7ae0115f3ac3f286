// Interop for `exact` via Permit2: the official @x402/express@2 merchant and @x402/fetch@2 buyer
// against our facilitator over HTTP, on anvil with Permit2 and the x402 exact proxy at their
// canonical addresses. Paid in a permit-only token (no EIP-3009, so Permit2 is its only way)
// and in USDC; asserted on chain, not only on status codes.
import { parseEventLogs, type Address, type Hash } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { deployPermit2Stack, X402_EXACT_PERMIT2_PROXY, x402ExactPermit2ProxyAbi, type Permit2Stack } from "../../src/devnet/permit2.js";
import { replay, type Attempt } from "../support/buyers.js";
import { startFacilitator } from "../support/facilitator.js";
import { useLab } from "../support/lab.js";
import { V2_NETWORK } from "../support/merchant.js";
import {
  approvePermit2,
  confirmedRows,
  ledgerRows,
  payWithPermit2,
  permit2Allowance,
  permit2NetworksFile,
  permit2NonceUsed,
  startPermit2Merchant,
  tokenBalance,
  type PriceToken,
} from "../support/permit2-merchant.js";

const PRICE = 10_000n;
const TX_HASH = /^0x[0-9a-f]{64}$/;

const lab = useLab();
let stack: Permit2Stack;

beforeAll(async () => {
  // Before any facilitator: placing Permit2 briefly switches the chain id.
  stack = await deployPermit2Stack(lab.chain.rpcUrl);
});

const permitToken = (): PriceToken => stack.token;
const usdc = (): PriceToken => lab.chain.usdc;

async function setup(token: PriceToken) {
  const payerKey = generatePrivateKey();
  const payer = privateKeyToAccount(payerKey);
  const payTo = privateKeyToAccount(generatePrivateKey()).address;
  if (token.address === stack.token.address) await stack.mint(payer.address, 1_000_000n);
  else await lab.chain.fund(payer.address, "1");
  const fac = (lab.fac = await startFacilitator(lab.chain, { NETWORKS_FILE: permit2NetworksFile(lab.chain, stack) }));
  const merchant = await startPermit2Merchant({ facilitatorUrl: fac.url, payTo, token, amount: PRICE });
  onTestFinished(() => merchant.close());
  const balances = () =>
    Promise.all([tokenBalance(lab.chain, token.address, payer.address), tokenBalance(lab.chain, token.address, payTo)]);
  const pay = () => payWithPermit2(merchant.paidUrl, payer, lab.chain.rpcUrl, token.address);
  return { payerKey, payer, payTo, fac, merchant, balances, pay };
}

const nonceOf = (a: Attempt) => BigInt(a.payload.payload.permit2Authorization.nonce);

function expectPaid(a: Attempt, payer: Address) {
  expect(a.status, `status (reason: ${a.reason ?? "-"})`).toBe(200);
  expect(a.body).toEqual({ content: "paid content" });
  expect(a.receiptHeaderName).toBe("PAYMENT-RESPONSE");
  expect(a.receipt).toMatchObject({ success: true, transaction: expect.stringMatching(TX_HASH), network: V2_NETWORK });
  expect(a.receipt!.payer?.toLowerCase()).toBe(payer.toLowerCase());
}

describe("exact via Permit2, @x402/fetch@2 -> @x402/express@2 -> our facilitator", () => {
  it("a payer without Permit2 allowance gets 412 (permit2_allowance_required); nothing moves, nothing is recorded", async () => {
    const { payer, fac, merchant, balances, pay } = await setup(permitToken());
    expect(await permit2Allowance(lab.chain, stack.token.address, payer.address)).toBe(0n);
    const before = await balances();

    const a = await pay();
    // The client did sign a Permit2 payment: the refusal came from verify, not from the client.
    expect(a.payload?.payload?.permit2Authorization?.from).toBe(payer.address);
    expect(a.status, `status (reason: ${a.reason ?? "-"})`).toBe(412);
    expect(a.reason).toBe("permit2_allowance_required");
    expect(await balances()).toEqual(before);
    expect(await permit2NonceUsed(lab.chain, payer.address, nonceOf(a))).toBe(false);
    expect(merchant.handled()).toBe(0);
    expect(await ledgerRows(fac, payer.address)).toEqual([]);
  });

  it("after approving Permit2 the payer pays: 200, exactly the price moves through the proxy, nonce used, ledger row confirmed", async () => {
    const { payerKey, payer, fac, merchant, balances, pay } = await setup(permitToken());
    await approvePermit2(lab.chain, stack.token.address, payerKey);
    const [payerBefore, payToBefore] = await balances();

    const a = await pay();
    expectPaid(a, payer.address);
    expect(await balances()).toEqual([payerBefore! - PRICE, payToBefore! + PRICE]);
    const hash = a.receipt!.transaction as Hash;
    const receipt = await lab.chain.client.getTransactionReceipt({ hash });
    expect(receipt.status).toBe("success");
    // Only the exact proxy can spend a witness transfer naming it as spender; its event proves it did.
    const settled = parseEventLogs({ abi: x402ExactPermit2ProxyAbi, logs: receipt.logs, eventName: "Settled" });
    expect(settled.map((l) => l.address.toLowerCase())).toEqual([X402_EXACT_PERMIT2_PROXY.toLowerCase()]);
    expect(await permit2NonceUsed(lab.chain, payer.address, nonceOf(a))).toBe(true);
    expect(merchant.handled()).toBe(1);

    const rows = await confirmedRows(fac, payer.address);
    expect(rows).toEqual([{ scheme: "exact", method: "permit2", state: "confirmed", settled_tx: expect.any(String) }]);
    expect(rows[0]!.settled_tx!.toLowerCase()).toBe(hash.toLowerCase());
  });

  it("replaying the captured PAYMENT-SIGNATURE is refused and moves no money", async () => {
    const { payerKey, payer, merchant, balances, pay } = await setup(permitToken());
    await approvePermit2(lab.chain, stack.token.address, payerKey);
    const paid = await pay();
    expectPaid(paid, payer.address);
    const after = await balances();

    const again = await replay(merchant.paidUrl, "PAYMENT-SIGNATURE", paid.paymentHeader!);
    expect(again.status, `status (reason: ${again.reason ?? "-"})`).toBe(402);
    expect(again.reason).toBeTruthy();
    expect(await balances()).toEqual(after);
    expect(merchant.handled()).toBe(1);
  });

  it("USDC (EIP-3009 and EIP-2612, no transferMethods in the config) can be paid through Permit2 too", async () => {
    const { payerKey, payer, merchant, balances, pay } = await setup(usdc());
    await approvePermit2(lab.chain, lab.chain.usdc.address, payerKey);
    const [payerBefore, payToBefore] = await balances();

    const a = await pay();
    expect(a.payload?.payload?.permit2Authorization, "the client signed Permit2, not EIP-3009").toBeDefined();
    expectPaid(a, payer.address);
    expect(await balances()).toEqual([payerBefore! - PRICE, payToBefore! + PRICE]);
    expect(await permit2NonceUsed(lab.chain, payer.address, nonceOf(a))).toBe(true);
    expect(merchant.handled()).toBe(1);
  });
});
