// Several RPC URLs per network: errors and silence move to the next one; with none answering,
// verify fails closed and settlements wait, then finish when an RPC is back.
import { privateKeyToAccount } from "viem/accounts";
import { parseEther } from "viem";
import { describe, expect, it } from "vitest";
import { ANVIL_KEYS } from "../src/devnet/anvil.js";
import { usesOf } from "./support/chain-facts.js";
import { startFacilitator } from "./support/facilitator.js";
import { useLab } from "./support/lab.js";
import { baseSepoliaFile } from "./support/networks-file.js";
import { fundedPayment } from "./support/payments.js";
import { CLOSED_PORT_URL, startRpcProxy, type RpcProxy } from "./support/rpc-proxy.js";

const proxies: RpcProxy[] = [];
const payTo = privateKeyToAccount(ANVIL_KEYS[3]).address;
const relayer = privateKeyToAccount(ANVIL_KEYS[0]).address;
const PRICE = 12_000n;

const lab = useLab({ afterEach: async () => void (await Promise.all(proxies.splice(0).map((p) => p.close()))) });

async function proxy() {
  const p = await startRpcProxy(lab.chain.rpcUrl);
  proxies.push(p);
  return p;
}

const payment = () => fundedPayment(lab.chain, { payTo, value: PRICE });

async function verify(body: unknown) {
  const res = await fetch(`${lab.fac!.url}/verify`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

async function waitConfirmed(payer: string, nonce: string, timeoutMs = 20_000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const row = (await lab.fac!.admin(`/settlements/by-authorization?network=eip155:84532&payer=${payer}&nonce=${nonce}`)).json.items?.[0];
    if (row?.state === "confirmed" || Date.now() > end) return row;
    await new Promise((r) => setTimeout(r, 150));
  }
}

describe.each([
  ["a closed port", async () => CLOSED_PORT_URL],
  [
    "a proxy answering HTTP 500",
    async () => {
      const p = await proxy();
      p.mode = "error500";
      return p.url;
    },
  ],
])("first RPC URL is %s", (_name, firstUrl) => {
  it("verify and settle continue on the second", async () => {
    lab.fac = await startFacilitator(lab.chain, { RPC_URL_BASE_SEPOLIA: `${await firstUrl()},${lab.chain.rpcUrl}` });
    const p = await payment();
    expect((await verify(p.body)).json).toEqual({ isValid: true, payer: p.buyer.address });
    const res = await lab.fac.settle(p.body);
    expect(res.json).toMatchObject({ success: true, transaction: expect.stringMatching(/^0x/) });
    expect(await usesOf(lab.chain, p.buyer.address, p.authorization.nonce)).toEqual([res.json.transaction]);
  });
});

describe("no RPC answers", () => {
  it("verify answers 5xx (never valid); a claimed settlement waits and completes once an RPC is back", async () => {
    const forApi = await proxy();
    const forWorker = await proxy();
    lab.fac = await startFacilitator(lab.chain, { RPC_URL_BASE_SEPOLIA: forApi.url, SETTLE_WAIT_MS: "500" }, { worker: false });
    await lab.fac.startWorker({ RPC_URL_BASE_SEPOLIA: forWorker.url });
    const p = await payment();

    forApi.mode = "down";
    const down = await verify(p.body);
    expect(down.status).toBe(503);
    expect(down.json).toMatchObject({ error: "rpc_unavailable" });
    expect(down.json.isValid).toBeUndefined();
    forApi.mode = "error500";
    expect((await verify(p.body)).status).toBe(503);
    forApi.mode = "ok";

    // Claimed while the api still reaches the chain; the worker's RPC is gone.
    forWorker.mode = "down";
    const pending = await lab.fac.settle(p.body);
    expect(pending.json).toMatchObject({ success: false, errorReason: "settlement_pending" });
    await new Promise((r) => setTimeout(r, 1500));
    expect(await usesOf(lab.chain, p.buyer.address, p.authorization.nonce)).toEqual([]);

    forWorker.mode = "ok";
    const row = await waitConfirmed(p.buyer.address, p.authorization.nonce);
    expect(row?.state).toBe("confirmed");
    expect(await usesOf(lab.chain, p.buyer.address, p.authorization.nonce)).toEqual([row.transaction]);
  });
});

describe("relayer gas floor", () => {
  it("a key below the floor takes no work and shows in /readyz; topped up, it settles", async () => {
    lab.fac = await startFacilitator(
      lab.chain,
      { NETWORKS_FILE: baseSepoliaFile(lab.chain, { minRelayerBalance: parseEther("5").toString() }), SETTLE_WAIT_MS: "300" },
      { worker: false },
    );
    const original = await lab.chain.client.getBalance({ address: relayer });
    await lab.chain.test.setBalance({ address: relayer, value: parseEther("1") });
    try {
      await lab.fac.startWorker({}, { laneIntervalMs: 300 });
      const ready = await fetch(`${lab.fac.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(JSON.stringify(await ready.json())).toMatch(/below the gas floor/);
      const p = await payment();
      expect((await lab.fac.settle(p.body)).json).toMatchObject({ errorReason: "settlement_pending", transaction: "" });
      await new Promise((r) => setTimeout(r, 1000));
      expect(await usesOf(lab.chain, p.buyer.address, p.authorization.nonce)).toEqual([]);
      await lab.chain.test.setBalance({ address: relayer, value: parseEther("10") });
      const row = await waitConfirmed(p.buyer.address, p.authorization.nonce);
      expect(row?.state).toBe("confirmed");
      expect((await fetch(`${lab.fac.url}/readyz`)).status).toBe(200);
    } finally {
      await lab.chain.test.setBalance({ address: relayer, value: original });
    }
  });
});
