// A merchant's API protected by the official @x402/express middleware, with this facilitator
// as its facilitator. Run alone: FACILITATOR_URL=http://127.0.0.1:4021 PAY_TO=0x… npx tsx examples/paid-server.ts
import type { Server } from "node:http";
import { pathToFileURL } from "node:url";
import { HTTPFacilitatorClient } from "@x402/core/server";
import { ExactEvmScheme } from "@x402/evm/exact/server";
import { paymentMiddleware, x402ResourceServer } from "@x402/express";
import express from "express";

export interface PaidServerOptions {
  facilitatorUrl: string;
  payTo: `0x${string}`;
  port: number;
  host?: string;
  /** Sent as `Authorization: Bearer …` when the facilitator has API_KEYS set. */
  apiKey?: string;
  network?: `${string}:${string}`;
}

export async function startPaidServer(o: PaidServerOptions): Promise<{ url: string; close(): Promise<void> }> {
  const auth: Record<string, string> = o.apiKey ? { authorization: `Bearer ${o.apiKey}` } : {};
  const facilitator = new HTTPFacilitatorClient({
    url: o.facilitatorUrl,
    createAuthHeaders: async () => ({ verify: auth, settle: auth, supported: auth }),
  });
  const network = o.network ?? "eip155:84532";
  const server = new x402ResourceServer(facilitator).register(network, new ExactEvmScheme());
  const app = express();
  app.use(
    paymentMiddleware(
      { "GET /weather": { accepts: { scheme: "exact", price: "$0.01", network, payTo: o.payTo }, description: "Today's weather" } },
      server,
    ),
  );
  app.get("/weather", (_req, res) => {
    res.json({ city: "Lisbon", sky: "clear", celsius: 21 });
  });
  const http: Server = await new Promise((resolve) => {
    const s = app.listen(o.port, o.host ?? "127.0.0.1", () => resolve(s));
  });
  const port = (http.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => http.close(() => r())) };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const payTo = process.env.PAY_TO as `0x${string}` | undefined;
  if (!payTo) throw new Error("set PAY_TO to the merchant address");
  const s = await startPaidServer({
    facilitatorUrl: process.env.FACILITATOR_URL ?? "http://127.0.0.1:4021",
    payTo,
    port: Number(process.env.PORT ?? 4022),
    apiKey: process.env.FACILITATOR_API_KEY,
  });
  console.log(`paid API on ${s.url}/weather`);
}
