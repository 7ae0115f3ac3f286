// x402 `upto` via Permit2 end to end, built only from the official v2 packages: an
// @x402/express@2 merchant whose metered route authorizes up to a maximum and, once its handler
// has run, names the actual charge through the Settlement-Overrides header; and an @x402/fetch@2
// buyer paying it with the upto client scheme. Plus the ledger read the upto interop test needs.
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import { HTTPFacilitatorClient } from "@x402/core/server";
import { UptoEvmScheme as UptoServer } from "@x402/evm/upto/server";
import { UptoEvmScheme as UptoClient } from "@x402/evm/upto/client";
import { paymentMiddleware, setSettlementOverrides, x402ResourceServer } from "@x402/express";
import { wrapFetchWithPayment, x402Client } from "@x402/fetch";
import type { Address } from "viem";
import type { PrivateKeyAccount } from "viem/accounts";
import { readAnswer, type Attempt, type Receipt } from "./buyers.js";
import type { TestFacilitator } from "./facilitator.js";
import { V2_NETWORK, type Merchant } from "./merchant.js";
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
  const http: Server = await new Promise((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  const { port } = http.address() as AddressInfo;
  return {
    paidUrl: `http://127.0.0.1:${port}/metered`,
    charges,
    handled: () => charges.length,
    close: () =>
      new Promise<void>((resolve, reject) => {
        http.closeAllConnections();
        http.close((e) => (e ? reject(e) : resolve()));
      }),
  };
}

/** An upto receipt also says how much was charged. */
export interface UptoAttempt extends Omit<Attempt, "receipt"> {
  receipt?: Receipt & { amount?: string };
}

/** Pays with @x402/fetch@2 and the upto client scheme for `account`, in `asset` only. */
export async function payUpto(url: string, account: PrivateKeyAccount, rpcUrl: string, asset: Address): Promise<UptoAttempt> {
  let sent: string | undefined;
  const capturing = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const req = new Request(input, init);
    sent = req.headers.get("PAYMENT-SIGNATURE") ?? sent;
    return fetch(req);
  }) as typeof fetch;
  // The client refuses tokens it does not know unless the buyer opts in, as a real buyer would.
  const client = x402Client.fromConfig({
    schemes: [{ network: V2_NETWORK, client: new UptoClient(account, { rpcUrl }) }],
    spendControls: { allowedAssets: [{ network: V2_NETWORK, asset }] },
  });
  const answer = await readAnswer(await wrapFetchWithPayment(capturing, client)(url));
  return {
    ...answer,
    ...(sent
      ? { paymentHeaderName: "PAYMENT-SIGNATURE", paymentHeader: sent, payload: JSON.parse(Buffer.from(sent, "base64").toString("utf8")) }
      : {}),
  };
}

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
