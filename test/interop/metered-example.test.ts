// The metered example (examples/metered-server.ts, which `npm run devnet` serves) against our
// facilitator, paid by the official @x402/fetch client with its upto scheme: the buyer authorizes
// the price of the longest answer and is charged per generated token, in USDC, without ever
// approving Permit2 (its route offers EIP-2612 sponsoring, which USDC's permit takes).
import { decodePaymentResponseHeader, wrapFetchWithPayment, x402Client } from "@x402/fetch";
import { UptoEvmScheme } from "@x402/evm/upto/client";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { beforeAll, expect, it, onTestFinished } from "vitest";
import { startMeteredServer } from "../../examples/metered-server.js";
import { deployPermit2Stack } from "../../src/devnet/permit2.js";
import { startFacilitator } from "../support/facilitator.js";
import { useLab } from "../support/lab.js";
import { V2_NETWORK } from "../support/merchant.js";
import { permit2Allowance } from "../support/permit2-merchant.js";

const UNIT_PRICE = 10n;
const lab = useLab();

beforeAll(async () => {
  // Before any facilitator: placing Permit2 briefly switches the chain id.
  await deployPermit2Stack(lab.chain.rpcUrl);
});

it("charges per generated token up to the authorized maximum, and nothing for an empty answer", async () => {
  lab.fac = await startFacilitator(lab.chain);
  const payTo = privateKeyToAccount(generatePrivateKey()).address;
  const shop = await startMeteredServer({ facilitatorUrl: lab.fac.url, payTo, port: 0, unitPrice: UNIT_PRICE, maxTokens: 1000 });
  onTestFinished(() => shop.close());
  const buyer = privateKeyToAccount(generatePrivateKey());
  await lab.chain.fund(buyer.address, "1");
  const usdc = lab.chain.usdc.address;
  expect(await permit2Allowance(lab.chain, usdc, buyer.address)).toBe(0n);
  const client = x402Client.fromConfig({
    schemes: [{ network: V2_NETWORK, client: new UptoEvmScheme(buyer, { rpcUrl: lab.chain.rpcUrl }) }],
  });
  const pay = wrapFetchWithPayment(fetch, client);

  const res = await pay(`${shop.url}/generate?tokens=120`);
  expect(res.status).toBe(200);
  const body = (await res.json()) as { tokens: number; charged: string };
  expect(body).toMatchObject({ tokens: 120, charged: (120n * UNIT_PRICE).toString() });
  const receipt = decodePaymentResponseHeader(res.headers.get("PAYMENT-RESPONSE")!);
  expect(receipt).toMatchObject({ success: true, amount: (120n * UNIT_PRICE).toString(), transaction: expect.stringMatching(/^0x/) });
  expect(await lab.chain.balanceOf(payTo)).toBe(120n * UNIT_PRICE);
  expect(await lab.chain.balanceOf(buyer.address)).toBe(1_000_000n - 120n * UNIT_PRICE);
  // The permit it signed instead of an approval was submitted by the relayer.
  expect(await permit2Allowance(lab.chain, usdc, buyer.address)).toBeGreaterThan(0n);

  const empty = await pay(`${shop.url}/generate?tokens=0`);
  expect(empty.status).toBe(200);
  expect(decodePaymentResponseHeader(empty.headers.get("PAYMENT-RESPONSE")!)).toMatchObject({
    success: true,
    amount: "0",
    transaction: "",
  });
  expect(await lab.chain.balanceOf(payTo)).toBe(120n * UNIT_PRICE);

  const rows = await lab.fac.sql<{ value: string; charged_amount: string; state: string }[]>`
    select value, charged_amount, state from settlements where scheme = 'upto' order by created_at`;
  expect(rows).toEqual([
    { value: (1000n * UNIT_PRICE).toString(), charged_amount: (120n * UNIT_PRICE).toString(), state: "confirmed" },
    { value: (1000n * UNIT_PRICE).toString(), charged_amount: "0", state: "confirmed" },
  ]);
});
