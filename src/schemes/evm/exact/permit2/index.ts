// `exact` through Permit2, for any ERC-20: the payer approves Permit2 once and then signs a
// PermitWitnessTransferFrom naming the x402 exact proxy, which the relayer calls to move the
// tokens to the witness's recipient. Permit2 keeps the nonce.
import type { NetworkLookup } from "../../../../config/config.js";
import type { FacilitatorRequest } from "../../../../x402/wire.js";
import type { LedgerEntry, PaymentMethod } from "../../../scheme.js";
import { permit2Key } from "./key.js";
import { explainSpent, isSpent, paidIn, refusal, wouldSucceed } from "./outcome.js";
import { permit2PayloadSchema, type Permit2Payload } from "./payload.js";
import { nonceHex, permit2612Of, permitOf, permitOfRow, settleCall } from "./permit.js";
import { Permit2Reason } from "./reasons.js";
import { EIP2612_EXTENSION, eip2612Info, splitPermit, storePermit } from "./sponsoring.js";
import { createPermit2Verifier, networkOf } from "./verify.js";

const authOf = (req: FacilitatorRequest) => (req.paymentPayload.payload as Permit2Payload).permit2Authorization;

function ledgerEntry(req: FacilitatorRequest, networks: NetworkLookup): LedgerEntry {
  const network = networkOf(req, { networks });
  if (!network) throw new Error("ledgerEntry asked for a payment that did not verify");
  const auth = authOf(req);
  const p = permitOf(auth);
  const sponsoring = eip2612Info(req);
  return {
    chainId: network.chainId,
    scheme: "exact",
    method: "permit2",
    paymentKey: permit2Key(network.chainId, p).key,
    asset: p.token.toLowerCase(),
    payer: p.owner.toLowerCase(),
    nonce: nonceHex(p.nonce),
    payTo: p.to.toLowerCase(),
    value: p.amount.toString(),
    validAfter: p.validAfter.toString(),
    // Permit2's deadline plays validBefore's part: past it the transfer can no longer happen.
    validBefore: p.deadline.toString(),
    signature: (req.paymentPayload.payload as Permit2Payload).signature,
    payload: { spender: auth.spender, ...(sponsoring ? { eip2612: storePermit(splitPermit(sponsoring)) } : {}) },
  };
}

export const permit2Exact: PaymentMethod = {
  scheme: "exact",
  method: "permit2",
  payloadKey: "permit2Authorization",
  payloadSchema: permit2PayloadSchema,
  kinds: (n) => [{ x402Version: 2, scheme: "exact", network: n.caip2 }],
  extensions: [EIP2612_EXTENSION],
  facts(req, networks) {
    const auth = authOf(req);
    const network = networkOf(req, { networks });
    return {
      payer: auth.from,
      network: req.paymentRequirements.network,
      key: network ? permit2Key(network.chainId, permitOf(auth)) : undefined,
    };
  },
  createVerifier: createPermit2Verifier,
  ledgerEntry,
  settlement: {
    call: (row, signature) => settleCall(permitOfRow(row), signature, permit2612Of(row)),
    isSpent,
    paidIn,
    explainSpent,
    refusal,
    wouldSucceed,
    expiredReason: Permit2Reason.deadline,
    // Each row's receipt must carry only its own transfer: paidIn matches one Transfer per call.
    batchable: () => false,
  },
};
