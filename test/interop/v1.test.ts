// Interop with the official v1 resource server: x402-express@1.2.0 pointed at our facilitator
// over HTTP (API key via createAuthHeaders), paid on anvil with Circle's real USDC by
//  - x402-fetch@1.2.0 (v1 client, viem WalletClient signer), and
//  - @x402/fetch@2 with registerExactEvmScheme (the v2 client answering a v1 challenge with X-PAYMENT).
import { afterAll, beforeAll } from "vitest";
import { startTestChain, type TestChain } from "../support/chain.js";
import { startFacilitator, type TestFacilitator } from "../support/facilitator.js";
import { pairingSuite, type InteropContext, type Pairing } from "../support/interop-suite.js";

const API_KEY = "interop-v1-key-0123456789";

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
  { client: "x402-fetch@1", server: "x402-express@1" },
  { client: "@x402/fetch@2 registerExactEvmScheme", server: "x402-express@1" },
];

for (const p of pairings) pairingSuite(p, ctx);
