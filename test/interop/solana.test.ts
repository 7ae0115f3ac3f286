// Interop on Solana: the official @x402/express@2 resource server with the official SVM server
// scheme, pointed at our facilitator over HTTP, paid by the official @x402/fetch@2 client with
// the official SVM client scheme. The cluster is the SIMULATED one (LiteSVM behind a JSON-RPC
// server, src/devnet/solana): the one seam here that is not the real thing.
import { afterAll, beforeAll, expect, it } from "vitest";
import express from "express";
import { HTTPFacilitatorClient } from "@x402/core/server";
import { paymentMiddleware, x402ResourceServer } from "@x402/express";
import { wrapFetchWithPaymentFromConfig } from "@x402/fetch";
import { ExactSvmScheme as SvmClientScheme } from "@x402/svm/exact/client";
import { ExactSvmScheme as SvmServerScheme } from "@x402/svm/exact/server";
import { serve } from "../support/merchant.js";
import { fundedBuyer, startLocalSolana, type LocalSolana } from "../support/solana.js";
import { newMerchant, startSolanaFacilitator, type SolanaFacilitator } from "../support/solana-facilitator.js";

let local: LocalSolana;
let fac: SolanaFacilitator;

beforeAll(async () => {
  local = await startLocalSolana({ slotMs: 100 });
  fac = await startSolanaFacilitator(local);
});
afterAll(async () => {
  await fac?.close();
  await local?.close();
});

it("@x402/fetch@2 pays @x402/express@2 on Solana through us: a paid 200, exact balances, our fee payer pays the fee", async () => {
  const payTo = await newMerchant(local);
  const buyer = await fundedBuyer(local, { usdc: 1_000_000n });

  let handled = 0;
  const app = express();
  const network = local.caip2 as `${string}:${string}`;
  app.use(
    paymentMiddleware(
      {
        "GET /paid": {
          accepts: { scheme: "exact", price: "$0.01", network, payTo },
          description: "paid content",
          mimeType: "application/json",
        },
      },
      new x402ResourceServer(new HTTPFacilitatorClient({ url: fac.url })).register(network, new SvmServerScheme()),
    ),
  );
  app.get("/paid", (_req, res) => {
    handled++;
    res.json({ content: "paid content" });
  });
  const merchant = await serve(app);
  try {
    const feePayerBefore = await local.cluster.solBalance(fac.feePayer.address);
    const pay = wrapFetchWithPaymentFromConfig(fetch, {
      schemes: [{ network, client: new SvmClientScheme(buyer.signer, { rpcUrl: local.url }) }],
    });
    const res = await pay(`${merchant.base}/paid`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ content: "paid content" });
    expect(handled).toBe(1);
    expect(await local.cluster.tokenBalance(local.usdc, buyer.address)).toBe(990_000n);
    expect(await local.cluster.tokenBalance(local.usdc, payTo)).toBe(10_000n);
    expect(await local.cluster.solBalance(buyer.address)).toBe(0n);
    expect(feePayerBefore - (await local.cluster.solBalance(fac.feePayer.address))).toBe(10_001n);
    // Success is answered once the transfer is committed (mined); confirmed follows a moment later.
    await expect
      .poll(async () => (await fac.sql`select state from settlements`).map((r) => r.state), { timeout: 10_000 })
      .toEqual(["confirmed"]);
  } finally {
    await merchant.close();
  }
});
