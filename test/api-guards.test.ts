// API keys, and what /verify answers when a dependency is gone: a 5xx with a JSON error, never
// isValid:true.
import { HTTPFacilitatorClient } from "@x402/core/server";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ANVIL_KEYS } from "../src/devnet/anvil.js";
import { startTestApi } from "./support/api.js";
import { startTestChain, type TestChain } from "./support/chain.js";
import { signAuthorization, v2Body } from "./support/payments.js";

let chain: TestChain;
const buyer = privateKeyToAccount(ANVIL_KEYS[2]);
const payTo = privateKeyToAccount(ANVIL_KEYS[3]).address;

async function validBody(c: TestChain) {
  const signed = await signAuthorization({ payer: buyer, payTo, value: 1000n, asset: c.usdc.address, chainId: c.chainId });
  return v2Body({ ...signed, asset: c.usdc.address, payTo, amount: 1000n, network: "eip155:84532" });
}

beforeAll(async () => {
  chain = await startTestChain();
  await chain.fund(buyer.address, "10");
});
afterAll(async () => chain?.stop());

describe("API_KEYS", () => {
  let api: Awaited<ReturnType<typeof startTestApi>>;
  beforeAll(async () => {
    api = await startTestApi(chain, {
      API_KEYS: "merchant-key-1,merchant-key-2",
      RELAYER_ADDRESSES: privateKeyToAccount(ANVIL_KEYS[0]).address,
    });
  });
  afterAll(async () => api?.close());

  it("refuses /verify without a key, with a wrong key, and with a malformed header", async () => {
    const payload = await validBody(chain);
    for (const authorization of [undefined, "Bearer nope", "merchant-key-1", "Basic merchant-key-1"]) {
      const res = await api.app.inject({ method: "POST", url: "/verify", payload, headers: authorization ? { authorization } : {} });
      expect(res.statusCode).toBe(401);
      expect(res.json()).toMatchObject({ error: "unauthorized" });
    }
  });

  it("accepts every configured key", async () => {
    for (const key of ["merchant-key-1", "merchant-key-2"]) {
      const res = await api.app.inject({
        method: "POST",
        url: "/verify",
        payload: await validBody(chain),
        headers: { authorization: `Bearer ${key}` },
      });
      expect(res.json()).toEqual({ isValid: true, payer: buyer.address });
    }
  });

  it("leaves /supported, /health, /healthz and /readyz open", async () => {
    for (const url of ["/supported", "/health", "/healthz", "/readyz"]) {
      expect((await api.app.inject({ method: "GET", url })).statusCode).toBe(200);
    }
  });
});

describe("BASE_PATH", () => {
  it("serves the API under the prefix (the official client reaches it there) and keeps health probes at the root", async () => {
    const api = await startTestApi(chain, { BASE_PATH: "/facilitator", RELAYER_ADDRESSES: privateKeyToAccount(ANVIL_KEYS[0]).address });
    try {
      const base = `${api.url}/facilitator`;
      const supported = await new HTTPFacilitatorClient({ url: base }).getSupported();
      expect(supported.kinds.map((k) => k.network)).toContain("eip155:84532");
      const verify = await fetch(`${base}/verify`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(await validBody(chain)),
      });
      expect(await verify.json()).toEqual({ isValid: true, payer: buyer.address });
      expect((await fetch(`${api.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect((await fetch(`${api.url}/supported`)).status).toBe(404);
    } finally {
      await api.close();
    }
  });
});

describe("dependencies down", () => {
  it("answers 503 rpc_unavailable when the chain stops answering, and recovers when it returns", async () => {
    const own = await startTestChain();
    const api = await startTestApi(own);
    try {
      await own.fund(buyer.address, "1");
      const payload = await validBody(own);
      expect((await api.app.inject({ method: "POST", url: "/verify", payload })).json().isValid).toBe(true);
      await own.anvil.stop();
      const res = await api.app.inject({ method: "POST", url: "/verify", payload });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({ error: "rpc_unavailable" });
      expect(res.json().isValid).toBeUndefined();
      const ready = await api.app.inject({ method: "GET", url: "/readyz" });
      expect(ready.statusCode).toBe(503);
      expect(ready.json().checks["rpc:base-sepolia"].ok).toBe(false);
    } finally {
      await api.close();
      await own.stop();
    }
  });

  it("answers 503 database_unavailable when Postgres cannot be reached", async () => {
    const api = await startTestApi(chain, { DATABASE_URL: "postgres://postgres@127.0.0.1:1/none" });
    try {
      const res = await api.app.inject({ method: "POST", url: "/verify", payload: await validBody(chain) });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({ error: "database_unavailable" });
      // The ledger is asked while the signature is checked, but a bad signature is a verdict
      // that needs no database: still a 200, never a 503.
      const forged = await validBody(chain);
      forged.paymentPayload.payload.authorization.from = chain.accounts[4]!.address;
      const refused = await api.app.inject({ method: "POST", url: "/verify", payload: forged });
      expect(refused.statusCode).toBe(200);
      expect(refused.json()).toMatchObject({ isValid: false, invalidReason: "invalid_exact_evm_signature" });
      expect((await api.app.inject({ method: "GET", url: "/readyz" })).json().checks.postgres.ok).toBe(false);
    } finally {
      await api.close();
    }
  });

  it("refuses to start when an RPC serves another chain", async () => {
    const other = await startTestChain({ chainId: 8453 });
    try {
      await expect(startTestApi(other)).rejects.toThrow(/RPC_URL_BASE_SEPOLIA: URL #1 serves chain 8453/);
    } finally {
      await other.stop();
    }
  });
});
