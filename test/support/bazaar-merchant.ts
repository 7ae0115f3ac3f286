// A resource server that declares itself to the Bazaar, built only from the official packages:
// @x402/express@2 paymentMiddleware over an x402ResourceServer (HTTPFacilitatorClient pointed at
// a facilitator URL, the exact EVM scheme on eip155:84532) with the official bazaar resource
// server extension registered, and routes that declare `bazaar` with declareDiscoveryExtension.
//  - GET /weather    a static route (query parameter `city`);
//  - GET /users/:id  a dynamic route: the extension sends its route template, so every
//                    /users/<n> is meant to be one catalog entry.
// Both routes carry service metadata (serviceName, tags, iconUrl) in their resource info.
import express from "express";
import { HTTPFacilitatorClient } from "@x402/core/server";
import { ExactEvmScheme } from "@x402/evm/exact/server";
import { paymentMiddleware, x402ResourceServer } from "@x402/express";
import { bazaarResourceServerExtension, declareDiscoveryExtension } from "@x402/extensions/bazaar";
import type { Address } from "viem";
import { bearerAuthHeaders, PRICE_USD, serve, V2_NETWORK } from "./merchant.js";

/** What each route declares, so a test can compare the catalog with it. */
export const WEATHER = {
  path: "/weather",
  description: "Current weather for a city",
  mimeType: "application/json",
  serviceName: "Skyline",
  tags: ["forecast", "meteo"],
  iconUrl: "https://skyline.example/icon.png",
} as const;

export const USERS = {
  pattern: "/users/:id",
  description: "A member's public profile",
  mimeType: "application/json",
  serviceName: "Skyline",
  tags: ["profiles"],
} as const;

export interface BazaarMerchant {
  /** http://127.0.0.1:<port> */
  base: string;
  /** How often each protected handler ran. */
  handled: { weather: number; users: number };
  close(): Promise<void>;
}

export async function startBazaarMerchant(o: { facilitatorUrl: string; payTo: Address; apiKey?: string }): Promise<BazaarMerchant> {
  const facilitator = new HTTPFacilitatorClient({
    url: o.facilitatorUrl,
    ...(o.apiKey !== undefined ? { createAuthHeaders: bearerAuthHeaders(o.apiKey) } : {}),
  });
  const server = new x402ResourceServer(facilitator)
    .register(V2_NETWORK, new ExactEvmScheme())
    .registerExtension(bazaarResourceServerExtension);
  const accepts = { scheme: "exact", price: PRICE_USD, network: V2_NETWORK, payTo: o.payTo };
  const routes = {
    [`GET ${WEATHER.path}`]: {
      accepts,
      description: WEATHER.description,
      mimeType: WEATHER.mimeType,
      serviceName: WEATHER.serviceName,
      tags: [...WEATHER.tags],
      iconUrl: WEATHER.iconUrl,
      extensions: {
        ...declareDiscoveryExtension({
          input: { city: "Lisbon" },
          inputSchema: { properties: { city: { type: "string" } }, required: ["city"] },
          output: { example: { city: "Lisbon", celsius: 21 } },
        }),
      },
    },
    [`GET ${USERS.pattern}`]: {
      accepts,
      description: USERS.description,
      mimeType: USERS.mimeType,
      serviceName: USERS.serviceName,
      tags: [...USERS.tags],
      extensions: {
        ...declareDiscoveryExtension({
          pathParamsSchema: { properties: { id: { type: "string" } }, required: ["id"] },
          output: { example: { id: "1", name: "Ada" } },
        }),
      },
    },
  };

  const handled = { weather: 0, users: 0 };
  const app = express();
  app.use(paymentMiddleware(routes, server));
  app.get(WEATHER.path, (req, res) => {
    handled.weather++;
    res.json({ city: req.query.city ?? null, celsius: 21 });
  });
  app.get(USERS.pattern, (req, res) => {
    handled.users++;
    res.json({ id: req.params.id, name: "Ada" });
  });
  const s = await serve(app);
  return { base: s.base, handled, close: s.close };
}
