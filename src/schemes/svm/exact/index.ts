// `exact` on Solana: the payer signs a whole transaction (compute budget, one TransferChecked,
// memos) that names our fee payer as account 0; we co-sign it as fee payer and send it. The
// ledger key is the transaction's message hash, so the same payment is one row however it is sent.
import type { FacilitatorRequest } from "../../../x402/wire.js";
import type { NetworkLookup } from "../../../config/config.js";
import type { LedgerEntry, SvmPaymentMethod } from "../../scheme.js";
import { svmPaymentKey, toSvmIntent } from "./intent.js";
import { svmExactPayloadSchema } from "./payload.js";
import { SvmReason } from "./reasons.js";
import { createSvmExactVerifier } from "./verify.js";

function ledgerEntry(req: FacilitatorRequest, networks: NetworkLookup): LedgerEntry {
  const intent = toSvmIntent(req, networks);
  const tx = intent.decoded;
  if (!intent.network || !tx) throw new Error("ledgerEntry asked for a payment that did not verify");
  const authority = tx.transaction.signatures[intent.payer as keyof typeof tx.transaction.signatures];
  return {
    chainId: intent.network.ledgerChainId,
    scheme: "exact",
    method: "svm",
    paymentKey: svmPaymentKey(intent.network, tx).key,
    asset: intent.asset,
    payer: intent.payer,
    // A Solana transaction's lifetime is its recent blockhash: the nearest thing it has to a nonce.
    nonce: tx.message.lifetimeToken,
    payTo: intent.payTo,
    value: intent.amount.toString(),
    validAfter: "0",
    validBefore: "0",
    signature: authority ? Buffer.from(authority).toString("base64") : "",
    payload: { transaction: intent.wire, feePayer: tx.message.staticAccounts[0] },
  };
}

export const svmExact: SvmPaymentMethod = {
  family: "svm",
  scheme: "exact",
  method: "svm",
  payloadKey: "transaction",
  payloadSchema: svmExactPayloadSchema,
  kinds: (n, feePayers) => {
    const feePayer = feePayers[0];
    if (!feePayer) return [];
    return [
      { x402Version: 2, scheme: "exact", network: n.caip2, extra: { feePayer } },
      { x402Version: 1, scheme: "exact", network: n.name, extra: { feePayer } },
    ];
  },
  facts(req, networks) {
    const intent = toSvmIntent(req, networks);
    const key = intent.network && intent.decoded ? svmPaymentKey(intent.network, intent.decoded) : undefined;
    return { payer: intent.payer, network: intent.requestNetwork, key };
  },
  createVerifier: createSvmExactVerifier,
  ledgerEntry,
  settlement: { expiredReason: SvmReason.blockhashExpired, usedReason: SvmReason.duplicateSettlement },
};
