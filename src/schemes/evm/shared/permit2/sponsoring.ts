// `eip2612GasSponsoring`: a payer who never approved Permit2 adds a signed EIP-2612 permit (token
// → Permit2, for the payment's amount) to the payload's extensions; the relayer then settles with
// `settleWithPermit`, which submits the permit and the transfer in one transaction, so the payer
// never pays gas for the approval.
import { isAddressEqual, type Hex } from "viem";
import type { FacilitatorRequest } from "../../../../x402/wire.js";
import { PERMIT2 } from "./contracts.js";

export const EIP2612_EXTENSION = "eip2612GasSponsoring";

export interface Eip2612Permit {
  value: bigint;
  deadline: bigint;
  r: Hex;
  s: Hex;
  v: number;
}

/** What the ledger keeps of it: decimal strings, as JSON holds no bigint. */
export type StoredEip2612Permit = { value: string; deadline: string; r: Hex; s: Hex; v: number };

const FIELDS = ["from", "asset", "spender", "amount", "nonce", "deadline", "signature", "version"] as const;
type Info = Record<(typeof FIELDS)[number], string>;

const FORMAT: Record<(typeof FIELDS)[number], RegExp> = {
  from: /^0x[a-fA-F0-9]{40}$/,
  asset: /^0x[a-fA-F0-9]{40}$/,
  spender: /^0x[a-fA-F0-9]{40}$/,
  amount: /^[0-9]{1,78}$/,
  nonce: /^[0-9]{1,78}$/,
  deadline: /^[0-9]{1,78}$/,
  // r ‖ s ‖ v: what settleWithPermit takes apart
  signature: /^0x[a-fA-F0-9]{130}$/,
  version: /^[0-9]+(\.[0-9]+)*$/,
};

/** The extension's info when the client filled it in; a server's bare declaration counts as absent. */
export function eip2612Info(req: FacilitatorRequest): Partial<Info> | undefined {
  const extensions = (req.paymentPayload as { extensions?: Record<string, { info?: Record<string, unknown> }> }).extensions;
  const info = extensions?.[EIP2612_EXTENSION]?.info;
  if (!info || typeof info !== "object") return undefined;
  return FIELDS.every((f) => !!info[f]) ? (info as Partial<Info>) : undefined;
}

/** The official checks of the permit against the payment, in order; the chain judges the rest. */
export function eip2612Problem(info: Partial<Info>, payer: Hex, asset: Hex, minDeadline: bigint): string | undefined {
  if (!FIELDS.every((f) => typeof info[f] === "string" && FORMAT[f].test(info[f]!))) return "invalid_eip2612_extension_format";
  const i = info as Info;
  if (!isAddressEqual(i.from as Hex, payer)) return "eip2612_from_mismatch";
  if (!isAddressEqual(i.asset as Hex, asset)) return "eip2612_asset_mismatch";
  if (!isAddressEqual(i.spender as Hex, PERMIT2)) return "eip2612_spender_not_permit2";
  if (BigInt(i.deadline) < minDeadline) return "eip2612_deadline_expired";
  return undefined;
}

export function splitPermit(info: Partial<Info>): Eip2612Permit {
  const sig = info.signature!;
  return {
    value: BigInt(info.amount!),
    deadline: BigInt(info.deadline!),
    r: `0x${sig.slice(2, 66)}`,
    s: `0x${sig.slice(66, 130)}`,
    v: parseInt(sig.slice(130, 132), 16),
  };
}

export const storePermit = (p: Eip2612Permit): StoredEip2612Permit => ({
  ...p,
  value: p.value.toString(),
  deadline: p.deadline.toString(),
});
export const loadPermit = (p: StoredEip2612Permit): Eip2612Permit => ({ ...p, value: BigInt(p.value), deadline: BigInt(p.deadline) });
