// GET /supported, and proof that the official v2 resource-server stack (@x402/core + @x402/evm +
// @x402/express) accepts our answer at start-up: it finds the kind it needs for Base Sepolia,
// refuses a network we do not serve, and serves a 402 naming our network.
import { getAddress } from "viem";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import express from "express";
import { decodePaymentRequiredHeader } from "@x402/core/http";
import { HTTPFacilitatorClient, RouteConfigurationError, x402HTTPResourceServer, x402ResourceServer } from "@x402/core/server";
import { ExactEvmScheme } from "@x402/evm/exact/server";
import { paymentMiddleware, x402ResourceServer as ExpressResourceServer } from "@x402/express";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ANVIL_KEYS } from "../src/devnet/anvil.js";
import { BASE_SEPOLIA_USDC } from "../src/devnet/usdc.js";
import { startTestApi } from "./support/api.js";
import { startTestChain, type TestChain } from "./support/chain.js";

const RELAYERS = [privateKeyToAccount(ANVIL_KEYS[0]).address, privateKeyToAccount(ANVIL_KEYS[1]).address];
const payTo = privateKeyToAccount(ANVIL_KEYS[3]).address;

let chain: TestChain;
let api: Awaited<ReturnType<typeof startTestApi>>;

beforeAll(async () => {
  chain = await startTestChain();
  api = await startTestApi(chain, { RELAYER_ADDRESSES: RELAYERS.join(",") });
});

afterAll(async () => {
  await api?.close();
  await chain?.stop();
});

describe("GET /supported", () => {
  it("lists exact on Base Sepolia for v2 and v1, upto naming a relayer, an extensions array and the relayers as eip155:* signers", async () => {
    const res = await fetch(`${api.url}/supported`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { kinds: unknown[]; extensions: unknown; signers: Record<string, string[]> };
    expect(body.kinds).toContainEqual({ x402Version: 2, scheme: "exact", network: "eip155:84532" });
    expect(body.kinds).toContainEqual({ x402Version: 1, scheme: "exact", network: "base-sepolia" });
    // upto names the facilitator its payers sign for: one of our relayers.
    expect(body.kinds).toContainEqual({
      x402Version: 2,
      scheme: "upto",
      network: "eip155:84532",
      extra: { facilitatorAddress: getAddress(RELAYERS[0]!) },
    });
    // Only the network that has an RPC URL is offered.
    expect(body.kinds).toHaveLength(3);
    expect(Array.isArray(body.extensions)).toBe(true);
    expect(body.signers["eip155:*"]).toEqual(RELAYERS);
  });

  it("is what HTTPFacilitatorClient.getSupported() parses", async () => {
    const supported = await new HTTPFacilitatorClient({ url: api.url }).getSupported();
    expect(supported.kinds).toContainEqual(expect.objectContaining({ x402Version: 2, scheme: "exact", network: "eip155:84532" }));
    expect(supported.signers["eip155:*"]).toEqual(RELAYERS);
  });
});

describe("the official @x402 v2 resource-server stack against our facilitator", () => {
  const newServer = () =>
    new x402ResourceServer(new HTTPFacilitatorClient({ url: api.url })).register("eip155:84532", new ExactEvmScheme());
  const route = (network: `${string}:${string}`) => ({
    "GET /paid": { accepts: { scheme: "exact", price: "$0.01", network, payTo }, description: "paid content" },
  });

  it("x402ResourceServer.initialize() finds (2, exact, eip155:84532) and nothing for a network we do not serve", async () => {
    const server = newServer();
    await server.initialize();
    expect(server.getSupportedKind(2, "eip155:84532", "exact")).toMatchObject({ x402Version: 2, scheme: "exact", network: "eip155:84532" });
    // v1 networks are plain names; the method's type only knows CAIP-2.
    expect(server.getSupportedKind(1, "base-sepolia" as `${string}:${string}`, "exact")).toMatchObject({
      x402Version: 1,
      scheme: "exact",
      network: "base-sepolia",
    });
    // Negative control: the same lookup for Base mainnet, which this api has no RPC for.
    expect(server.getSupportedKind(2, "eip155:8453", "exact")).toBeUndefined();
  });

  it("x402HTTPResourceServer.initialize() accepts a route on eip155:84532", async () => {
    await expect(new x402HTTPResourceServer(newServer(), route("eip155:84532")).initialize()).resolves.toBeUndefined();
  });

  it("x402HTTPResourceServer.initialize() reports a route on eip155:8453 as missing_facilitator", async () => {
    const server = newServer().register("eip155:8453", new ExactEvmScheme());
    const err = await new x402HTTPResourceServer(server, route("eip155:8453")).initialize().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RouteConfigurationError);
    expect((err as RouteConfigurationError).errors).toEqual([
      expect.objectContaining({ reason: "missing_facilitator", scheme: "exact", network: "eip155:8453" }),
    ]);
  });

  it("@x402/express paymentMiddleware answers an unpaid request with a 402 naming eip155:84532", async () => {
    // Only a route we serve: the middleware exits the process on a route-configuration error.
    const resourceServer = new ExpressResourceServer(new HTTPFacilitatorClient({ url: api.url })).register(
      "eip155:84532",
      new ExactEvmScheme(),
    );
    const app = express();
    app.use(paymentMiddleware(route("eip155:84532"), resourceServer));
    app.get("/paid", (_req, res) => void res.json({ content: "paid" }));
    const server: Server = await new Promise((resolve) => {
      const s = app.listen(0, "127.0.0.1", () => resolve(s));
    });
    try {
      const { port } = server.address() as AddressInfo;
      const res = await fetch(`http://127.0.0.1:${port}/paid`, { headers: { accept: "application/json" } });
      expect(res.status).toBe(402);
      const header = res.headers.get("PAYMENT-REQUIRED");
      expect(header, "PAYMENT-REQUIRED header").toBeTruthy();
      const required = decodePaymentRequiredHeader(header!);
      expect(required.x402Version).toBe(2);
      expect(required.accepts[0]).toMatchObject({
        scheme: "exact",
        network: "eip155:84532",
        amount: "10000",
        asset: BASE_SEPOLIA_USDC,
        payTo,
        extra: { name: "USDC", version: "2" },
      });
    } finally {
      await new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve())));
    }
  });
});
