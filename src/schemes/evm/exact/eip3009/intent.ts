// A v1 or v2 request reduced to the one shape the checks read. Nothing here judges validity;
// it only lines the fields up (and resolves the network the requirements name).
import { getAddress, type Address, type Hex } from "viem";
import type { EnabledNetwork, NetworkLookup } from "../../../../config/config.js";
import type { PaymentKey } from "../../../../db/schema.js";
import type { Authorization } from "../../../../evm/typed-data.js";
import type { FacilitatorRequest } from "../../../../x402/wire.js";
import type { Eip3009Payload } from "./payload.js";

/** A payload this method was handed without reading it (another method's shape): it only names the payer. */
type ForeignPayload = { signature?: string; permit2Authorization?: { from?: unknown } };

export interface PaymentIntent {
  x402Version: 1 | 2;
  /** requirements.network exactly as sent: echoed back in settle answers. */
  requestNetwork: string;
  payloadScheme: string;
  requirementsScheme: string;
  payloadNetwork: string;
  /** undefined when the requirements name a network this facilitator has not enabled */
  network?: EnabledNetwork;
  asset: Address;
  payTo: Address;
  amount: bigint;
  extra: { name?: string; version?: string };
  maxTimeoutSeconds?: number;
  /** undefined for payload types other than EIP-3009 (Permit2) */
  authorization?: Authorization;
  signature: Hex;
  payer: string;
}

export function toIntent(req: FacilitatorRequest, networks: NetworkLookup): PaymentIntent {
  const payload = req.paymentPayload.payload as Eip3009Payload | ForeignPayload;
  const foreign = "permit2Authorization" in payload;
  const authorization = foreign ? undefined : (payload as Eip3009Payload).authorization;
  const permit2From = foreign ? (payload as ForeignPayload).permit2Authorization?.from : undefined;
  const common = {
    asset: getAddress(req.paymentRequirements.asset),
    payTo: getAddress(req.paymentRequirements.payTo),
    requirementsScheme: req.paymentRequirements.scheme,
    requestNetwork: req.paymentRequirements.network,
    extra: { name: req.paymentRequirements.extra?.name, version: req.paymentRequirements.extra?.version },
    maxTimeoutSeconds: req.paymentRequirements.maxTimeoutSeconds,
    authorization,
    signature: (payload.signature ?? "0x") as Hex,
    payer: authorization?.from ?? (typeof permit2From === "string" ? permit2From : ""),
  };
  if (req.version === 1) {
    return {
      ...common,
      x402Version: 1,
      payloadScheme: req.paymentPayload.scheme,
      payloadNetwork: req.paymentPayload.network,
      network: networks.byV1Name(req.paymentRequirements.network),
      amount: BigInt(req.paymentRequirements.maxAmountRequired),
    };
  }
  return {
    ...common,
    x402Version: 2,
    payloadScheme: req.paymentPayload.accepted.scheme,
    payloadNetwork: req.paymentPayload.accepted.network,
    network: networks.byCaip2(req.paymentRequirements.network),
    amount: BigInt(req.paymentRequirements.amount),
  };
}

/** The ledger's key for an authorization: one row, one transfer, ever (the token's own nonce space). */
export const paymentKeyOf = (chainId: number, asset: string, auth: Authorization): PaymentKey => ({
  chainId,
  key: `eip3009:${asset.toLowerCase()}:${auth.from.toLowerCase()}:${auth.nonce.toLowerCase()}`,
});
