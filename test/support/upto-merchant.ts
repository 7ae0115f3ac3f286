// x402 `upto` via Permit2 end to end, built only from the official v2 packages: an
// @x402/express@2 merchant whose metered route authorizes up to a maximum and, once its handler
// has run, names the actual charge through the Settlement-Overrides header; and an @x402/fetch@2
// buyer paying it with the upto client scheme. Plus the ledger read the upto interop test needs.
import express from "express";
import { HTTPFacilitatorClient } from "@x402/core/server";
import { UptoEvmScheme as UptoServer } from "@x402/evm/upto/server";
import { UptoEvmScheme as UptoClient } from "@x402/evm/upto/client";
import { paymentMiddleware, setSettlementOverrides, x402ResourceServer } from "@x402/express";
import type { Address } from "viem";
import type { PrivateKeyAccount } from "viem/accounts";
import { payWithClientScheme, type Attempt, type Receipt } from "./buyers.js";
import type { TestFacilitator } from "./facilitator.js";
import { serve, V2_NETWORK, type Merchant } from "./merchant.js";
import type { PriceToken } from "./permit2-merchant.js";

export interface UptoMerchantOptions {
  facilitatorUrl: string;
  token: PriceToken;
  /** The most a payer authorizes, in atomic units of `token`. */
  maximum: bigint;
  payTo: Address;
  /** What the handler charges for the request it just served; read once per served request. */
  charge: () => bigint;
}

export interface UptoMerchant extends Merchant {
  /** The charges the handler named, in order. */
  charges: bigint[];
}

export async function startUptoMerchant(o: UptoMerchantOptions): Promise<UptoMerchant> {
  const { address, name, version } = o.token;
  const routes = {
    "GET /metered": {
      accepts: {
        scheme: "upto",
        network: V2_NETWORK,
        payTo: o.payTo,
        // A non-default token needs an explicit asset amount; the server scheme adds the
        // facilitatorAddress from /supported on top of this extra.
        price: { amount: o.maximum.toString(), asset: address, extra: { name, version, assetTransferMethod: "permit2" } },
      },
      description: "metered content",
      mimeType: "application/json",
    },
  };
  const server = new x402ResourceServer(new HTTPFacilitatorClient({ url: o.facilitatorUrl })).register(V2_NETWORK, new UptoServer());
  const charges: bigint[] = [];
  const app = express();
  app.use(paymentMiddleware(routes, server));
  app.get("/metered", (_req, res) => {
    const charge = o.charge();
    charges.push(charge);
    setSettlementOverrides(res, { amount: charge.toString() });
    res.json({ content: "metered content" });
  });
  const s = await serve(app);
  return { paidUrl: `${s.base}/metered`, charges, handled: () => charges.length, close: s.close };
}

/** An upto receipt also says how much was charged. */
export interface UptoAttempt extends Omit<Attempt, "receipt"> {
  receipt?: Receipt & { amount?: string };
}

/** Pays with @x402/fetch@2 and the upto client scheme for `account`, in `asset` only. */
export const payUpto = (url: string, account: PrivateKeyAccount, rpcUrl: string, asset: Address): Promise<UptoAttempt> =>
  payWithClientScheme(url, new UptoClient(account, { rpcUrl }), asset);

export interface UptoLedgerRow {
  scheme: string;
  method: string;
  state: string;
  value: string;
  charged_amount: string | null;
  settled_tx: string | null;
}

export const uptoLedgerRows = (fac: TestFacilitator, payer: Address) =>
  fac.sql<UptoLedgerRow[]>`
    select scheme, method, state, value::text, charged_amount::text, settled_tx
    from settlements where lower(payer) = ${payer.toLowerCase()}`;
