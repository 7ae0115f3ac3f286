// Interop with the official v2 resource server: @x402/express@2 pointed at our facilitator
// over HTTP (API key via createAuthHeaders), paid on anvil with Circle's real USDC by
//  - @x402/fetch@2 (wrapFetchWithPaymentFromConfig) through paymentMiddleware(routes, x402ResourceServer), and
//  - the third pairing: the @x402/core x402HTTPClient driven directly (402 -> createPaymentPayload ->
//    PAYMENT-SIGNATURE retry) through paymentMiddlewareFromConfig(routes, HTTPFacilitatorClient, schemes).
// (@x402/axios and @x402/hono are not installed; this pairing needs neither.)
import { interopFile } from "../support/interop-suite.js";

interopFile("interop-v2-key-0123456789", [
  { client: "@x402/fetch@2", server: "@x402/express@2 paymentMiddleware" },
  { client: "@x402/core x402HTTPClient", server: "@x402/express@2 paymentMiddlewareFromConfig" },
]);
