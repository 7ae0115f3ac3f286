// Solana as an operator runs it, against the SIMULATED cluster (LiteSVM behind a JSON-RPC
// server): a v1 payment from the official v1 client, RPC failover past a dead URL, /readyz on
// the fee payer's balance, and a Redis wiped while a payment waits in the ledger.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ExactSvmSchemeV1 } from "@x402/svm/exact/v1/client";
import { freePort } from "./support/ports.js";
import { startPrivateRedis, type PrivateRedis } from "./support/private-redis.js";
import { fundedBuyer, startLocalSolana, type LocalSolana } from "./support/solana.js";
import { newMerchant, newSvmPayment, startSolanaFacilitator, type SolanaFacilitator } from "./support/solana-facilitator.js";

let local: LocalSolana;
let redis: PrivateRedis;
let fac: SolanaFacilitator | undefined;
beforeAll(async () => {
  [local, redis] = await Promise.all([startLocalSolana({ slotMs: 200 }), startPrivateRedis()]);
});
afterEach(async () => {
  await fac?.close();
  fac = undefined;
});
afterAll(async () => {
  await local?.close();
  await redis?.stop();
});

const merchant = () => newMerchant(local);

describe("Solana in operation", () => {
  it("settles a v1 payment (network solana-devnet) made by the official v1 client", async () => {
    fac = await startSolanaFacilitator(local);
    const payTo = await merchant();
    const buyer = await fundedBuyer(local, { usdc: 1_000_000n });
    const requirements = {
      scheme: "exact",
      network: "solana-devnet",
      maxAmountRequired: "10000",
      resource: "http://127.0.0.1/paid",
      description: "paid content",
      mimeType: "application/json",
      asset: local.usdc,
      payTo,
      maxTimeoutSeconds: 60,
      extra: { feePayer: fac.feePayer.address },
    };
    const payload = await new ExactSvmSchemeV1(buyer.signer, { rpcUrl: local.url }).createPaymentPayload(1, requirements as never);
    const body = { x402Version: 1, paymentPayload: payload, paymentRequirements: requirements };
    expect((await fac.post("/verify", body)).json).toEqual({ isValid: true, payer: buyer.address });
    const settled = await fac.post("/settle", body);
    expect(settled.json).toMatchObject({ success: true, network: "solana-devnet", payer: buyer.address });
    expect(await local.cluster.tokenBalance(local.usdc, payTo)).toBe(10_000n);
  });

  it("fails over past an RPC URL that does not answer", async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    fac = await startSolanaFacilitator(local, { RPC_URL_SOLANA_DEVNET: `${dead},${local.url}` });
    const { payTo, body } = await newSvmPayment(local, fac);
    const settled = await fac.post("/settle", body);
    expect(settled.json).toMatchObject({ success: true });
    expect(await local.cluster.tokenBalance(local.usdc, payTo)).toBe(10_000n);
  });

  it("/readyz is not ready when every fee payer is below its floor, and names it", async () => {
    fac = await startSolanaFacilitator(local, {}, { feePayerSol: 1_000n });
    const res = await fetch(`${fac.url}/readyz`);
    const body = (await res.json()) as { checks: Record<string, { ok: boolean; error?: string }> };
    expect(res.status).toBe(503);
    expect(body.checks["rpc:solana-devnet"]).toMatchObject({ ok: true });
    expect(body.checks["feepayers:solana-devnet"]).toMatchObject({ ok: false });
    expect(body.checks["feepayers:solana-devnet"]!.error).toContain(`${fac.feePayer.address}=1000`);
    local.cluster.airdrop(fac.feePayer.address, 1_000_000_000n);
    await expect.poll(async () => (await fetch(`${fac!.url}/readyz`)).status, { timeout: 10_000 }).toBe(200);
  });

  it("a Redis wiped while the payment waits in the ledger: the reconciler finds it, it settles once", async () => {
    fac = await startSolanaFacilitator(local, { REDIS_URL: redis.url, SETTLE_WAIT_MS: "1000" }, { worker: false });
    const { payTo, body } = await newSvmPayment(local, fac);
    expect((await fac.post("/settle", body)).json).toMatchObject({ errorReason: "settlement_pending" });
    await redis.client.flushall();
    await fac.startWorker();
    await expect.poll(async () => (await fac!.sql`select state from settlements`)[0]?.state, { timeout: 20_000 }).toBe("confirmed");
    expect((await fac.post("/settle", body)).json).toMatchObject({ success: true });
    expect(await local.cluster.tokenBalance(local.usdc, payTo)).toBe(10_000n);
  });
});

describe("Solana under load", () => {
  it("40 different payments at once: every one settles exactly once, each merchant paid exactly", async () => {
    fac = await startSolanaFacilitator(local);
    const payments = await Promise.all(Array.from({ length: 40 }, () => newSvmPayment(local, fac!)));
    const answers = await Promise.all(payments.map((p) => fac!.post("/settle", p.body)));
    expect(answers.map((a) => a.json.success)).toEqual(payments.map(() => true));
    expect(new Set(answers.map((a) => a.json.transaction)).size).toBe(40);
    for (const p of payments) {
      expect(await local.cluster.tokenBalance(local.usdc, p.payTo)).toBe(10_000n);
      expect(await local.cluster.tokenBalance(local.usdc, p.buyer.address)).toBe(990_000n);
    }
    // Success is answered once each transfer is committed (mined); confirmed follows a moment later.
    await expect
      .poll(async () => [...(await fac!.sql`select state, count(*)::int as n from settlements group by state`)], { timeout: 15_000 })
      .toEqual([{ state: "confirmed", n: 40 }]);
  });
});
