// Interop with the official v1 resource server: x402-express@1.2.0 pointed at our facilitator
// over HTTP (API key via createAuthHeaders), paid on anvil with Circle's real USDC by
//  - x402-fetch@1.2.0 (v1 client, viem WalletClient signer), and
//  - @x402/fetch@2 with registerExactEvmScheme (the v2 client answering a v1 challenge with X-PAYMENT).
import { interopFile } from "../support/interop-suite.js";

interopFile("interop-v1-key-0123456789", [
  { client: "x402-fetch@1", server: "x402-express@1" },
  { client: "@x402/fetch@2 registerExactEvmScheme", server: "x402-express@1" },
]);
