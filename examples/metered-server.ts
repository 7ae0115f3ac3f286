// An API sold by use with x402 `upto`: a text generator priced per generated token. The buyer
// authorizes at most the price of a full-length answer; the handler generates, counts what it
// produced, and names the real charge through the official Settlement-Overrides mechanism, so
// the middleware settles only that (nothing at all for an empty answer).
// Run alone: FACILITATOR_URL=http://127.0.0.1:4021 PAY_TO=0x… npx tsx examples/metered-server.ts
import { UptoEvmScheme } from "@x402/evm/upto/server";
import { paymentMiddleware, setSettlementOverrides, x402ResourceServer } from "@x402/express";
import { declareEip2612GasSponsoringExtension } from "@x402/extensions";
import express from "express";
import { facilitatorClient, isMain, listen, merchantEnv, type MerchantOptions, type Running } from "./serving.js";

export interface MeteredServerOptions extends MerchantOptions {
  /** Price of one generated token in USDC's smallest unit (default 10: $0.00001). */
  unitPrice?: bigint;
  /** The longest answer, so the most a request can cost (default 1000 tokens). */
  maxTokens?: number;
}

const WORDS = "the quick brown fox jumps over a lazy dog while rivers run to the sea under open sky".split(" ");

/** Stands in for a model: `n` tokens of text, the same for the same `n`. */
const generate = (n: number) => Array.from({ length: n }, (_, i) => WORDS[(i * 7) % WORDS.length]).join(" ");

export async function startMeteredServer(o: MeteredServerOptions): Promise<Running> {
  const facilitator = facilitatorClient(o.facilitatorUrl, o.apiKey);
  const network = o.network ?? "eip155:84532";
  const unitPrice = o.unitPrice ?? 10n;
  const maxTokens = o.maxTokens ?? 1000;
  const server = new x402ResourceServer(facilitator).register(network, new UptoEvmScheme());
  const routes = {
    "GET /generate": {
      accepts: {
        scheme: "upto",
        network,
        payTo: o.payTo,
        // The most a request may cost, in USDC units; the buyer signs for this much at most.
        price: `$${(Number(unitPrice * BigInt(maxTokens)) / 1e6).toFixed(6)}`,
      },
      description: `Generated text, ${unitPrice} USDC units per token, at most ${maxTokens} tokens`,
      mimeType: "application/json",
      // A buyer who never approved Permit2 signs an EIP-2612 permit instead; the relayer submits it.
      extensions: declareEip2612GasSponsoringExtension(),
    },
  };
  const app = express();
  app.use(paymentMiddleware(routes, server));
  app.get("/generate", (req, res) => {
    const asked = Number(req.query.tokens ?? 100);
    const tokens = Number.isInteger(asked) ? Math.max(0, Math.min(asked, maxTokens)) : 0;
    const text = generate(tokens);
    const charge = unitPrice * BigInt(tokens);
    // Read by the middleware after this handler: it settles this amount instead of the maximum.
    setSettlementOverrides(res, { amount: charge.toString() });
    res.json({ text, tokens, charged: charge.toString() });
  });
  return listen(app, o.port, o.host);
}

if (isMain(import.meta.url)) {
  const s = await startMeteredServer(merchantEnv(4023));
  console.log(`metered API on ${s.url}/generate?tokens=120`);
}
