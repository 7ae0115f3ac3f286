// Interop for `exact` via Permit2 with the eip2612GasSponsoring extension: the merchant's route
// declares it, so the official @x402/fetch@2 client signs an EIP-2612 permit for Permit2 next to
// its Permit2 transfer, and our facilitator has to bring the allowance itself (the proxy's
// settleWithPermit). The payer never sends a transaction and never holds gas money.
import { declareEip2612GasSponsoringExtension } from "@x402/extensions";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { beforeAll, expect, it, onTestFinished } from "vitest";
import { deployPermit2Stack, type Permit2Stack } from "../../src/devnet/permit2.js";
import { startFacilitator } from "../support/facilitator.js";
import { useLab } from "../support/lab.js";
import { V2_NETWORK } from "../support/merchant.js";
import { payWithPermit2, permit2Allowance, permit2NetworksFile, startPermit2Merchant, tokenBalance } from "../support/permit2-merchant.js";

const PRICE = 10_000n;

const lab = useLab();
let stack: Permit2Stack;

beforeAll(async () => {
  // Before any facilitator: placing Permit2 briefly switches the chain id.
  stack = await deployPermit2Stack(lab.chain.rpcUrl);
});

it("a payer with no Permit2 allowance and no ETH pays with a signed EIP-2612 permit: 200, exact balances, no payer transaction", async () => {
  const payer = privateKeyToAccount(generatePrivateKey());
  const payTo = privateKeyToAccount(generatePrivateKey()).address;
  const token = stack.token.address;
  await stack.mint(payer.address, 1_000_000n);
  lab.fac = await startFacilitator(lab.chain, { NETWORKS_FILE: permit2NetworksFile(lab.chain, stack) });
  const merchant = await startPermit2Merchant({
    facilitatorUrl: lab.fac.url,
    payTo,
    token: stack.token,
    amount: PRICE,
    extensions: declareEip2612GasSponsoringExtension(),
  });
  onTestFinished(() => merchant.close());
  expect(await permit2Allowance(lab.chain, token, payer.address)).toBe(0n);
  expect(await lab.chain.client.getBalance({ address: payer.address })).toBe(0n);

  const a = await payWithPermit2(merchant.paidUrl, payer, lab.chain.rpcUrl, token);
  // The client took the sponsored path: a signed permit travels in the payload's extensions.
  expect(a.payload?.extensions?.eip2612GasSponsoring?.info).toMatchObject({
    from: payer.address,
    amount: PRICE.toString(),
    signature: expect.stringMatching(/^0x[0-9a-f]{130}$/i),
  });
  expect(a.status, `status (reason: ${a.reason ?? "-"})`).toBe(200);
  expect(a.body).toEqual({ content: "paid content" });
  expect(a.receipt).toMatchObject({ success: true, transaction: expect.stringMatching(/^0x[0-9a-f]{64}$/), network: V2_NETWORK });
  expect(await lab.chain.client.getTransactionCount({ address: payer.address })).toBe(0);
  expect(await tokenBalance(lab.chain, token, payer.address)).toBe(1_000_000n - PRICE);
  expect(await tokenBalance(lab.chain, token, payTo)).toBe(PRICE);
  expect(merchant.handled()).toBe(1);
});
