// A Permit2 scheme as a payment method: the payload, the ledger entry, the verify steps and the
// settlement side are the same for every x402 proxy; the route (route.ts) says what differs.
import type { z } from "zod";
import type { NetworkLookup } from "../../../../config/config.js";
import type { FacilitatorRequest } from "../../../../x402/wire.js";
import type { LedgerEntry, PaymentMethod } from "../../../scheme.js";
import { permit2Key } from "./key.js";
import { permit2Settlement } from "./outcome.js";
import type { Permit2Payload } from "./payload.js";
import { nonceHex, permitOf, type StoredPermit2 } from "./permit.js";
import type { Permit2Route } from "./route.js";
import { EIP2612_EXTENSION, eip2612Info, splitPermit, storePermit } from "./sponsoring.js";
import { createPermit2Verifier, networkOf } from "./verify.js";

const payloadOf = (req: FacilitatorRequest) => req.paymentPayload.payload as Permit2Payload;

export function permit2Method(route: Permit2Route, o: { payloadSchema: z.ZodType; kinds: PaymentMethod["kinds"] }): PaymentMethod {
  function ledgerEntry(req: FacilitatorRequest, networks: NetworkLookup): LedgerEntry {
    const network = networkOf(req, { networks });
    if (!network) throw new Error("ledgerEntry asked for a payment that did not verify");
    const { permit2Authorization: auth, signature } = payloadOf(req);
    const p = permitOf(auth);
    const sponsoring = eip2612Info(req);
    const stored: StoredPermit2 = {
      spender: auth.spender,
      ...(p.facilitator ? { facilitator: p.facilitator } : {}),
      ...(sponsoring ? { eip2612: storePermit(splitPermit(sponsoring)) } : {}),
    };
    return {
      chainId: network.chainId,
      scheme: route.scheme,
      method: "permit2",
      paymentKey: permit2Key(network.chainId, p).key,
      asset: p.token.toLowerCase(),
      payer: p.owner.toLowerCase(),
      nonce: nonceHex(p.nonce),
      payTo: p.to.toLowerCase(),
      // The permitted amount; a charging scheme settles the requirements' amount, up to it.
      value: p.amount.toString(),
      chargedAmount: route.chargeExceeds && req.version === 2 ? req.paymentRequirements.amount : null,
      validAfter: p.validAfter.toString(),
      // Permit2's deadline plays validBefore's part: past it the transfer can no longer happen.
      validBefore: p.deadline.toString(),
      signature,
      payload: stored as unknown as Record<string, unknown>,
    };
  }

  return {
    scheme: route.scheme,
    method: "permit2",
    payloadKey: "permit2Authorization",
    payloadSchema: o.payloadSchema,
    kinds: o.kinds,
    extensions: [EIP2612_EXTENSION],
    facts(req, networks) {
      const auth = payloadOf(req).permit2Authorization;
      const network = networkOf(req, { networks });
      return {
        payer: auth.from,
        network: req.paymentRequirements.network,
        key: network ? permit2Key(network.chainId, permitOf(auth)) : undefined,
      };
    },
    createVerifier: (deps) => createPermit2Verifier(route, deps),
    ledgerEntry,
    settlement: permit2Settlement(route),
  };
}
