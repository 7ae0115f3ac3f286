// Interop with the official v2 resource server: @x402/express@2 pointed at our facilitator
// over HTTP (API key via createAuthHeaders), paid on anvil with Circle's real USDC by
//  - @x402/fetch@2 (wrapFetchWithPaymentFromConfig) through paymentMiddleware(routes, x402ResourceServer), and
//  - the third pairing: the @x402/core x402HTTPClient driven directly (402 -> createPaymentPayload ->
//    PAYMENT-SIGNATURE retry) through paymentMiddlewareFromConfig(routes, HTTPFacilitatorClient, schemes).
// (@x402/axios and @x402/hono are not installed; this pairing needs neither.)
import { afterAll, beforeAll } from "vitest";
import { startTestChain, type TestChain } from "../support/chain.js";
import { startFacilitator, type TestFacilitator } from "../support/facilitator.js";
import { pairingSuite, type InteropContext, type Pairing } from "../support/interop-suite.js";

const API_KEY = "interop-v2-key-0123456789";

let chain: TestChain;
let fac: TestFacilitator;

beforeAll(async () => {
  chain = await startTestChain();
  fac = await startFacilitator(chain, { API_KEYS: `other-key-abcdef,${API_KEY}` });
});

afterAll(async () => {
  await fac?.close();
  await chain?.stop();
});

const ctx = (): InteropContext => ({ chain, fac, apiKey: API_KEY });

const pairings: Pairing[] = [
  { client: "@x402/fetch@2", server: "@x402/express@2 paymentMiddleware" },
  { client: "@x402/core x402HTTPClient", server: "@x402/express@2 paymentMiddlewareFromConfig" },
];

for (const p of pairings) pairingSuite(p, ctx);
