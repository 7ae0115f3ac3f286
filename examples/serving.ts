// What the example merchants share: a client for the facilitator (with its API key, when it asks
// for one), listening on a port, and the settings a merchant run alone reads from its environment.
import type { Server } from "node:http";
import { pathToFileURL } from "node:url";
import { HTTPFacilitatorClient } from "@x402/core/server";
import type { Express } from "express";

/** Where an example merchant listens, whom it is paid, and which facilitator it asks. */
export interface MerchantOptions {
  facilitatorUrl: string;
  payTo: `0x${string}`;
  port: number;
  host?: string;
  /** Sent as `Authorization: Bearer …` when the facilitator has API_KEYS set. */
  apiKey?: string;
  network?: `${string}:${string}`;
}

export interface Running {
  url: string;
  close(): Promise<void>;
}

/** `apiKey` is sent as `Authorization: Bearer …` when the facilitator has API_KEYS set. */
export function facilitatorClient(url: string, apiKey?: string): HTTPFacilitatorClient {
  const auth: Record<string, string> = apiKey ? { authorization: `Bearer ${apiKey}` } : {};
  return new HTTPFacilitatorClient({ url, createAuthHeaders: async () => ({ verify: auth, settle: auth, supported: auth }) });
}

export async function listen(app: Express, port: number, host = "127.0.0.1"): Promise<Running> {
  const http: Server = await new Promise((resolve) => {
    const s = app.listen(port, host, () => resolve(s));
  });
  const bound = (http.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${bound}`, close: () => new Promise((r) => http.close(() => r())) };
}

/** Whether the file is the one node was asked to run. */
export const isMain = (moduleUrl: string) => moduleUrl === pathToFileURL(process.argv[1] ?? "").href;

/** A merchant run alone: PAY_TO, FACILITATOR_URL, FACILITATOR_API_KEY and PORT. */
export function merchantEnv(defaultPort: number) {
  const payTo = process.env.PAY_TO as `0x${string}` | undefined;
  if (!payTo) throw new Error("set PAY_TO to the merchant address");
  return {
    facilitatorUrl: process.env.FACILITATOR_URL ?? "http://127.0.0.1:4021",
    payTo,
    port: Number(process.env.PORT ?? defaultPort),
    apiKey: process.env.FACILITATOR_API_KEY,
  };
}
