// The scenarios every client/middleware pairing must pass against our facilitator, asserted on
// chain (balances and AuthorizationUsed logs), not only on status codes:
//  - paid: 200, receipt header decoded (success, tx hash, network, payer), exact balance moves;
//  - replay of the captured payment header: 402 with a reason, no money moves;
//  - underfunded payer: 402 with the reason, no money moves;
//  - API key through createAuthHeaders (recorded in the ledger), wrong or missing key refused.
import { createHash } from "node:crypto";
import { parseUnits, type Address } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nonceOf, pay, replay, type Attempt, type ClientKind } from "./buyers.js";
import { startTestChain, type TestChain } from "./chain.js";
import { usesOf } from "./chain-facts.js";
import { startFacilitator, type TestFacilitator } from "./facilitator.js";
import { PRICE, startV1Merchant, startV2Merchant, V1_NETWORK, V2_NETWORK, type Merchant } from "./merchant.js";

export type ServerKind = "x402-express@1" | "@x402/express@2 paymentMiddleware" | "@x402/express@2 paymentMiddlewareFromConfig";

export interface Pairing {
  client: ClientKind;
  server: ServerKind;
}

export interface InteropContext {
  chain: TestChain;
  fac: TestFacilitator;
  /** One of the keys in our api's API_KEYS. */
  apiKey: string;
}

const TX_HASH = /^0x[0-9a-f]{64}$/;

/** The key id our api stores with a settlement (first 12 hex of the key's SHA-256). */
export const keyId = (key: string) => createHash("sha256").update(key).digest("hex").slice(0, 12);

export const isV1Server = (s: ServerKind) => s === "x402-express@1";

export function startMerchant(server: ServerKind, o: { facilitatorUrl: string; payTo: Address; apiKey?: string }): Promise<Merchant> {
  if (server === "x402-express@1") return startV1Merchant(o);
  return startV2Merchant({ ...o, build: server === "@x402/express@2 paymentMiddlewareFromConfig" ? "from-config" : "resource-server" });
}

export async function newBuyer(chain: TestChain, usdc: string) {
  const buyer = privateKeyToAccount(generatePrivateKey());
  if (Number(usdc) > 0) await chain.fund(buyer.address, usdc);
  return buyer;
}

export const newPayTo = () => privateKeyToAccount(generatePrivateKey()).address;

export async function balances(chain: TestChain, ...who: Address[]) {
  return Promise.all(who.map((a) => chain.balanceOf(a)));
}

export async function ledgerRows(fac: TestFacilitator, payer: Address) {
  return fac.sql<{ state: string; api_key_id: string | null; latest_tx: string | null; settled_tx: string | null }[]>`
    select state, api_key_id, latest_tx, settled_tx from settlements where payer = ${payer.toLowerCase()}`;
}

/** Asserts a successful paid answer and the receipt the middleware attached. */
export function expectPaid(a: Attempt, pairing: Pairing, payer: Address) {
  expect(a.status, `status (reason: ${a.reason ?? "-"})`).toBe(200);
  expect(a.body).toEqual({ content: "paid content" });
  const v1 = isV1Server(pairing.server);
  expect(a.paymentHeaderName).toBe(v1 ? "X-PAYMENT" : "PAYMENT-SIGNATURE");
  expect(a.receiptHeaderName).toBe(v1 ? "X-PAYMENT-RESPONSE" : "PAYMENT-RESPONSE");
  expect(a.receipt).toMatchObject({ success: true, transaction: expect.stringMatching(TX_HASH), network: v1 ? V1_NETWORK : V2_NETWORK });
  expect(a.receipt!.payer?.toLowerCase()).toBe(payer.toLowerCase());
}

export function pairingSuite(pairing: Pairing, ctx: () => InteropContext) {
  const v1Server = isV1Server(pairing.server);

  describe(`${pairing.client} -> ${pairing.server}`, () => {
    async function setup(usdc: string, apiKey?: string | null) {
      const { chain, fac } = ctx();
      const buyer = await newBuyer(chain, usdc);
      const payTo = newPayTo();
      const merchant = await startMerchant(pairing.server, {
        facilitatorUrl: fac.url,
        payTo,
        ...(apiKey === null ? {} : { apiKey: apiKey ?? ctx().apiKey }),
      });
      return { chain, fac, buyer, payTo, merchant };
    }

    it("a paid request gets 200 with the receipt header, and exactly the price moves on chain", async () => {
      const { chain, fac, buyer, payTo, merchant } = await setup("1");
      try {
        const [buyerBefore, payToBefore] = await balances(chain, buyer.address, payTo);
        const a = await pay(pairing.client, merchant.paidUrl, buyer, chain.rpcUrl);
        expectPaid(a, pairing, buyer.address);
        expect(await balances(chain, buyer.address, payTo)).toEqual([buyerBefore! - PRICE, payToBefore! + PRICE]);
        // The receipt's hash is the one transaction that used this authorization, and it succeeded.
        expect(await usesOf(chain, buyer.address, nonceOf(a.payload))).toEqual([a.receipt!.transaction]);
        expect((await chain.client.getTransactionReceipt({ hash: a.receipt!.transaction as `0x${string}` })).status).toBe("success");
        expect(a.payload.x402Version).toBe(v1Server ? 1 : 2);
        expect(merchant.handled()).toBe(1);
        // The key reached our api through createAuthHeaders: the ledger row carries its id.
        const rows = await ledgerRows(fac, buyer.address);
        expect(rows).toHaveLength(1);
        expect(rows[0]!.api_key_id).toBe(keyId(ctx().apiKey));
      } finally {
        await merchant.close();
      }
    });

    it("replaying the captured payment header gets 402 and moves no money", async () => {
      const { chain, buyer, payTo, merchant } = await setup("1");
      try {
        const paid = await pay(pairing.client, merchant.paidUrl, buyer, chain.rpcUrl);
        expectPaid(paid, pairing, buyer.address);
        const after = await balances(chain, buyer.address, payTo);

        const again = await replay(merchant.paidUrl, paid.paymentHeaderName!, paid.paymentHeader!);
        expect(again.status).toBe(402);
        expect(again.receipt?.success ?? false).toBe(false);
        expect(again.reason).toBe("invalid_exact_evm_nonce_already_used");
        expect(await balances(chain, buyer.address, payTo)).toEqual(after);
        expect(await usesOf(chain, buyer.address, nonceOf(paid.payload))).toEqual([paid.receipt!.transaction]);
        expect(merchant.handled()).toBe(1);
      } finally {
        await merchant.close();
      }
    });

    it("an underfunded payer gets 402 with the reason, and no money moves", async () => {
      const { chain, fac, buyer, payTo, merchant } = await setup("0.005");
      try {
        expect(await chain.balanceOf(buyer.address)).toBe(parseUnits("0.005", 6));
        const a = await pay(pairing.client, merchant.paidUrl, buyer, chain.rpcUrl);
        expect(a.status).toBe(402);
        expect(a.paymentHeader, "the client did sign and send a payment").toBeTruthy();
        expect(a.reason).toBe("invalid_exact_evm_insufficient_balance");
        if (v1Server)
          expect(a.body).toMatchObject({ x402Version: 1, error: "invalid_exact_evm_insufficient_balance", payer: buyer.address });
        expect(await balances(chain, buyer.address, payTo)).toEqual([parseUnits("0.005", 6), 0n]);
        expect(await usesOf(chain, buyer.address, nonceOf(a.payload))).toEqual([]);
        expect(merchant.handled()).toBe(0);
        expect(await ledgerRows(fac, buyer.address)).toEqual([]);
      } finally {
        await merchant.close();
      }
    });

    it.each([
      ["a wrong key", "not-one-of-our-keys"],
      ["no key", null],
    ] as const)("%s in createAuthHeaders is refused: no 200, no money moves", async (_label, key) => {
      const { chain, fac, buyer, payTo, merchant } = await setup("1", key);
      try {
        const a = await pay(pairing.client, merchant.paidUrl, buyer, chain.rpcUrl);
        expect(a.status).not.toBe(200);
        expect(a.status).toBe(402);
        expect(a.paymentHeader, "the client did sign and send a payment").toBeTruthy();
        // Both SDKs surface our 401 in the reason they put in the 402.
        expect(a.reason).toMatch(/401/);
        expect(await balances(chain, buyer.address, payTo)).toEqual([parseUnits("1", 6), 0n]);
        expect(await usesOf(chain, buyer.address, nonceOf(a.payload))).toEqual([]);
        expect(merchant.handled()).toBe(0);
        expect(await ledgerRows(fac, buyer.address)).toEqual([]);
      } finally {
        await merchant.close();
      }
    });
  });
}

/**
 * A test file's worth of pairings: one chain and one facilitator (with API keys, one of them
 * the merchants') shared by every pairing's suite.
 */
export function interopFile(apiKey: string, pairings: Pairing[]) {
  let chain: TestChain;
  let fac: TestFacilitator;
  beforeAll(async () => {
    chain = await startTestChain();
    fac = await startFacilitator(chain, { API_KEYS: `other-key-abcdef,${apiKey}` });
  });
  afterAll(async () => {
    await fac?.close();
    await chain?.stop();
  });
  for (const p of pairings) pairingSuite(p, () => ({ chain, fac, apiKey }));
}
