// The local checks of a verify, each tied to one reason and free of I/O. They run in the
// reference facilitator's order so both name the same first problem.
import { isAddress, type Address } from "viem";
import type { AssetConfig } from "../../../../config/networks.js";
import { Reason, type ReasonCode } from "../../../../x402/reasons.js";
import { VALID_BEFORE_MARGIN_S } from "../../../scheme.js";
import { allowsMethod } from "../../shared/assets.js";
import type { PaymentIntent } from "./intent.js";

export function checkScheme(i: PaymentIntent): ReasonCode | undefined {
  if (i.requirementsScheme !== "exact") return Reason.unsupportedScheme;
  if (i.payloadScheme !== "exact") return Reason.invalidScheme;
  return undefined;
}

export function checkNetwork(i: PaymentIntent): ReasonCode | undefined {
  if (!i.network) return Reason.invalidNetwork;
  if (!i.extra.name || !i.extra.version) return Reason.missingEip712Domain;
  if (i.payloadNetwork !== i.requestNetwork) return Reason.networkMismatch;
  return undefined;
}

/** The asset, when it is on the network's allowlist for EIP-3009. */
export function findAllowedAsset(i: PaymentIntent): AssetConfig | undefined {
  const wanted = i.asset.toLowerCase();
  const asset = i.network?.assets.find((a) => a.address.toLowerCase() === wanted);
  return asset && allowsMethod(asset, "eip3009") ? asset : undefined;
}

export function checkPayloadType(i: PaymentIntent): ReasonCode | undefined {
  return i.authorization ? undefined : Reason.unsupportedPayloadType;
}

export function checkAddressChecksums(i: PaymentIntent): ReasonCode | undefined {
  const { from, to } = i.authorization!;
  return isAddress(from, { strict: true }) && isAddress(to, { strict: true }) ? undefined : Reason.invalidSignature;
}

export function checkRecipient(i: PaymentIntent): ReasonCode | undefined {
  return i.authorization!.to.toLowerCase() === i.payTo.toLowerCase() ? undefined : Reason.recipientMismatch;
}

export function checkTimeWindow(i: PaymentIntent, nowSeconds: bigint): ReasonCode | undefined {
  const auth = i.authorization!;
  if (BigInt(auth.validBefore) < nowSeconds + VALID_BEFORE_MARGIN_S) return Reason.validBefore;
  if (BigInt(auth.validAfter) > nowSeconds) return Reason.validAfter;
  return undefined;
}

export function checkAmount(i: PaymentIntent): ReasonCode | undefined {
  if (BigInt(i.authorization!.value) === i.amount) return undefined;
  return i.x402Version === 1 ? Reason.authorizationValue : Reason.authorizationValueMismatch;
}

/** The signed domain must be the token's real one, or the chain will reject the signature. */
export function checkDomain(i: PaymentIntent, asset: AssetConfig): ReasonCode | undefined {
  if (i.extra.name !== asset.name) return Reason.tokenNameMismatch;
  if (i.extra.version !== asset.version) return Reason.tokenVersionMismatch;
  return undefined;
}

export const sameAddress = (a: Address | string, b: Address | string) => a.toLowerCase() === b.toLowerCase();
