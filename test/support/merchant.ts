// Resource servers ("merchants") built only from the official middleware, pointed at a
// facilitator URL over HTTP: x402-express@1 (v1) and @x402/express@2 (v2, either through an
// explicit x402ResourceServer or through paymentMiddlewareFromConfig). Each serves one paid
// route, GET /paid, and counts how often its handler ran.
//
// Only Base Sepolia routes: the v2 middleware exits the process on a route configuration error.
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import { HTTPFacilitatorClient } from "@x402/core/server";
import { ExactEvmScheme } from "@x402/evm/exact/server";
import { paymentMiddleware as v2PaymentMiddleware, paymentMiddlewareFromConfig, x402ResourceServer } from "@x402/express";
import { paymentMiddleware as v1PaymentMiddleware } from "x402-express";
import type { Address } from "viem";

/** "$0.01" of USDC (6 decimals) in atomic units. */
export const PRICE_USD = "$0.01";
export const PRICE = 10_000n;
export const V1_NETWORK = "base-sepolia";
export const V2_NETWORK = "eip155:84532" as const;

export interface Merchant {
  /** The paid resource. */
  paidUrl: string;
  /** How many times the protected handler ran. */
  handled(): number;
  close(): Promise<void>;
}

export interface MerchantOptions {
  facilitatorUrl: string;
  payTo: Address;
  /** Sent as "Authorization: Bearer <key>" on verify/settle/supported through createAuthHeaders. */
  apiKey?: string;
}

export interface V2MerchantOptions extends MerchantOptions {
  /** "resource-server": paymentMiddleware(routes, new x402ResourceServer(...)); "from-config": paymentMiddlewareFromConfig. */
  build?: "resource-server" | "from-config";
  /** Merged into the route's accepts.extra, e.g. { paymentFlow: "upfront" }. */
  extra?: Record<string, unknown>;
  timeoutMs?: number;
}

/** The per-path header map both SDKs' createAuthHeaders expect (v1 also reads `list`, v2 `bazaar`). */
export function bearerAuthHeaders(key: string) {
  const h = { Authorization: `Bearer ${key}` };
  return async () => ({ verify: h, settle: h, supported: h, list: h, bazaar: h });
}

/** Listens on a free local port; close() also drops kept-alive connections. */
export async function serve(app: express.Express): Promise<{ base: string; close(): Promise<void> }> {
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
}

/** An app whose GET /paid, behind what `install` puts in front of it, counts the requests it serves. */
export function paidApp(install: (app: express.Express) => void) {
  let count = 0;
  const app = express();
  install(app);
  app.get("/paid", (_req, res) => {
    count++;
    res.json({ content: "paid content" });
  });
  return { app, handled: () => count };
}

/** x402-express@1.2.0: paymentMiddleware(payTo, routes, { url, createAuthHeaders }). */
export async function startV1Merchant(o: MerchantOptions): Promise<Merchant> {
  const facilitator = {
    url: o.facilitatorUrl as `${string}://${string}`,
    ...(o.apiKey !== undefined ? { createAuthHeaders: bearerAuthHeaders(o.apiKey) } : {}),
  };
  const { app, handled } = paidApp((a) =>
    a.use(
      v1PaymentMiddleware(
        o.payTo,
        { "GET /paid": { price: PRICE_USD, network: V1_NETWORK, config: { description: "paid content" } } },
        facilitator,
      ),
    ),
  );
  const s = await serve(app);
  return { paidUrl: `${s.base}/paid`, handled, close: s.close };
}

/** @x402/express@2: the official v2 resource server stack with the exact EVM scheme on eip155:84532. */
export async function startV2Merchant(o: V2MerchantOptions): Promise<Merchant> {
  const facilitator = new HTTPFacilitatorClient({
    url: o.facilitatorUrl,
    ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}),
    ...(o.apiKey !== undefined ? { createAuthHeaders: bearerAuthHeaders(o.apiKey) } : {}),
  });
  const routes = {
    "GET /paid": {
      accepts: { scheme: "exact", price: PRICE_USD, network: V2_NETWORK, payTo: o.payTo, ...(o.extra ? { extra: o.extra } : {}) },
      description: "paid content",
      mimeType: "application/json",
    },
  };
  const { app, handled } = paidApp((a) => {
    if (o.build === "from-config") {
      a.use(paymentMiddlewareFromConfig(routes, facilitator, [{ network: V2_NETWORK, server: new ExactEvmScheme() }]));
    } else {
      a.use(v2PaymentMiddleware(routes, new x402ResourceServer(facilitator).register(V2_NETWORK, new ExactEvmScheme())));
    }
  });
  const s = await serve(app);
  return { paidUrl: `${s.base}/paid`, handled, close: s.close };
}
