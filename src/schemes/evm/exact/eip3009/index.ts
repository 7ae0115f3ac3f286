// `exact` through EIP-3009 transferWithAuthorization (USDC and other FiatToken-style tokens):
// the payer signs the transfer itself, the token keeps the nonce, the relayer only carries it.
import type { NetworkLookup } from "../../../../config/config.js";
import { Reason } from "../../../../x402/reasons.js";
import type { FacilitatorRequest } from "../../../../x402/wire.js";
import type { LedgerEntry, PaymentMethod } from "../../../scheme.js";
import { settlementCall } from "./call.js";
import { paymentKeyOf, toIntent } from "./intent.js";
import { explainSpent, isSpent, paidIn, refusal } from "./outcome.js";
import { eip3009PayloadSchema } from "./payload.js";
import { createEip3009Verifier } from "./verify.js";

function ledgerEntry(req: FacilitatorRequest, networks: NetworkLookup): LedgerEntry {
  const intent = toIntent(req, networks);
  const auth = intent.authorization;
  if (!intent.network || !auth) throw new Error("ledgerEntry asked for a payment that did not verify");
  return {
    chainId: intent.network.chainId,
    scheme: "exact",
    method: "eip3009",
    paymentKey: paymentKeyOf(intent.network.chainId, intent.asset, auth).key,
    asset: intent.asset.toLowerCase(),
    payer: auth.from.toLowerCase(),
    nonce: auth.nonce.toLowerCase(),
    payTo: intent.payTo.toLowerCase(),
    value: auth.value,
    validAfter: auth.validAfter,
    validBefore: auth.validBefore,
    signature: intent.signature,
    payload: null,
  };
}

export const eip3009Exact: PaymentMethod = {
  scheme: "exact",
  method: "eip3009",
  payloadKey: "authorization",
  payloadSchema: eip3009PayloadSchema,
  kinds: (n) => [
    { x402Version: 2, scheme: "exact", network: n.caip2 },
    ...(n.v1 ? [{ x402Version: 1 as const, scheme: "exact", network: n.name }] : []),
  ],
  facts(req, networks) {
    const intent = toIntent(req, networks);
    const key =
      intent.network && intent.authorization ? paymentKeyOf(intent.network.chainId, intent.asset, intent.authorization) : undefined;
    return { payer: intent.payer, network: intent.requestNetwork, key };
  },
  createVerifier: createEip3009Verifier,
  ledgerEntry,
  settlement: {
    call: settlementCall,
    isSpent,
    paidIn,
    explainSpent,
    refusal,
    expiredReason: Reason.validBefore,
    usedReason: Reason.nonceAlreadyUsed,
    // A wallet deployed on the way (ERC-6492) needs its own two-step call.
    batchable: (_row, signature) => !signature.deployment,
  },
};
