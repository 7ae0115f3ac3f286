// A merchant's API protected by the official @x402/express middleware, with this facilitator
// as its facilitator. Run alone: FACILITATOR_URL=http://127.0.0.1:4021 PAY_TO=0x… npx tsx examples/paid-server.ts
import { ExactEvmScheme } from "@x402/evm/exact/server";
import { ExactSvmScheme } from "@x402/svm/exact/server";
import { paymentMiddleware, x402ResourceServer } from "@x402/express";
import { declareEip2612GasSponsoringExtension } from "@x402/extensions";
import express from "express";
import { facilitatorClient, isMain, listen, merchantEnv, type MerchantOptions, type Running } from "./serving.js";

export interface PaidServerOptions extends MerchantOptions {
  /**
   * A token to sell /weather-permit2 for, paid through Permit2 (any ERC-20). Its route offers
   * EIP-2612 gas sponsoring, so a buyer who never approved Permit2 pays in one step.
   */
  permit2Token?: { address: `0x${string}`; name: string; version: string; decimals: number };
  /** Also sell /weather-solana for $0.01 of USDC on this Solana network (CAIP-2), paid to `payTo`. */
  solana?: { network: `solana:${string}`; payTo: string };
}

export async function startPaidServer(o: PaidServerOptions): Promise<Running> {
  const facilitator = facilitatorClient(o.facilitatorUrl, o.apiKey);
  const network = o.network ?? "eip155:84532";
  const server = new x402ResourceServer(facilitator).register(network, new ExactEvmScheme());
  if (o.solana) server.register(o.solana.network, new ExactSvmScheme());
  const app = express();
  const routes: Record<string, unknown> = {
    "GET /weather": { accepts: { scheme: "exact", price: "$0.01", network, payTo: o.payTo }, description: "Today's weather" },
  };
  const t = o.permit2Token;
  if (t) {
    routes["GET /weather-permit2"] = {
      accepts: {
        scheme: "exact",
        network,
        payTo: o.payTo,
        // One cent of the token, in its own units; the extra tells the client to sign for Permit2.
        price: {
          amount: (10n ** BigInt(t.decimals) / 100n).toString(),
          asset: t.address,
          extra: { name: t.name, version: t.version, assetTransferMethod: "permit2" },
        },
      },
      description: "Today's weather, paid through Permit2",
      extensions: declareEip2612GasSponsoringExtension(),
    };
  }
  if (o.solana) {
    routes["GET /weather-solana"] = {
      accepts: { scheme: "exact", price: "$0.01", network: o.solana.network, payTo: o.solana.payTo },
      description: "Today's weather, paid on Solana",
    };
  }
  app.use(paymentMiddleware(routes as Parameters<typeof paymentMiddleware>[0], server));
  const weather = (_req: express.Request, res: express.Response) => {
    res.json({ city: "Lisbon", sky: "clear", celsius: 21 });
  };
  app.get("/weather", weather);
  if (t) app.get("/weather-permit2", weather);
  if (o.solana) app.get("/weather-solana", weather);
  return listen(app, o.port, o.host);
}

if (isMain(import.meta.url)) {
  const s = await startPaidServer(merchantEnv(4022));
  console.log(`paid API on ${s.url}/weather`);
}
