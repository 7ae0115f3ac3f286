// Builders for `exact` Permit2 payments as the official client sends them: a
// PermitWitnessTransferFrom for the exact proxy, signed by whoever the test says (an account's
// signTypedData, or an owner signing the raw digest for a contract wallet), wrapped in a v2 body.
import { randomBytes } from "node:crypto";
import { hashTypedData, type Address, type Hex, type TypedDataDefinition } from "viem";
import { exactPermit2WitnessTypes, PERMIT2_ADDRESS, X402_EXACT_PERMIT2_PROXY } from "../../src/devnet/permit2.js";
import { now } from "./payments.js";

/** The signed fields of a Permit2 witness transfer a test may set, in either scheme; the rest it leaves to permit2Defaults. */
export interface Permit2SignedFields {
  chainId: number;
  network?: string;
  nonce?: bigint;
  deadline?: bigint;
  validAfter?: bigint;
  /** Overrides of the signed message, to break exactly one thing. */
  spender?: Address;
}

/** What a payer signs unless the test says otherwise: a fresh nonce, five minutes, valid at once, for `proxy`. */
export function permit2Defaults(o: Permit2SignedFields, proxy: Address) {
  return {
    nonce: o.nonce ?? BigInt(`0x${randomBytes(32).toString("hex")}`),
    deadline: o.deadline ?? now() + 300n,
    validAfter: o.validAfter ?? 0n,
    spender: o.spender ?? proxy,
  };
}

export interface Permit2PaymentOptions extends Permit2SignedFields {
  from: Address;
  /** Signs the typed data (an EOA's signTypedData, or an owner signing its digest for a wallet). */
  sign(typedData: TypedDataDefinition<typeof exactPermit2WitnessTypes, "PermitWitnessTransferFrom">): Promise<Hex>;
  token: { address: Address; name: string; version: string };
  amount: bigint;
  payTo: Address;
  /** Envelope fields that are not signed: the same authorization may travel in different bodies. */
  resourceUrl?: string;
  extra?: Record<string, string>;
}

export async function permit2Payment(o: Permit2PaymentOptions) {
  const { nonce, deadline, validAfter, spender } = permit2Defaults(o, X402_EXACT_PERMIT2_PROXY);
  const typedData = {
    domain: { name: "Permit2", chainId: o.chainId, verifyingContract: PERMIT2_ADDRESS },
    types: exactPermit2WitnessTypes,
    primaryType: "PermitWitnessTransferFrom",
    message: {
      permitted: { token: o.token.address, amount: o.amount },
      spender,
      nonce,
      deadline,
      witness: { to: o.payTo, validAfter },
    },
  } as const;
  const signature = await o.sign(typedData);
  const requirements = {
    scheme: "exact",
    network: o.network ?? "eip155:84532",
    amount: o.amount.toString(),
    asset: o.token.address,
    payTo: o.payTo,
    maxTimeoutSeconds: 300,
    extra: { name: o.token.name, version: o.token.version, assetTransferMethod: "permit2", ...o.extra },
  };
  const permit2Authorization = {
    from: o.from,
    permitted: { token: o.token.address, amount: o.amount.toString() },
    spender,
    nonce: nonce.toString(),
    deadline: deadline.toString(),
    witness: { to: o.payTo, validAfter: validAfter.toString() },
  };
  const body = {
    x402Version: 2,
    paymentPayload: {
      x402Version: 2,
      ...(o.resourceUrl ? { resource: { url: o.resourceUrl, description: "test", mimeType: "application/json" } } : {}),
      accepted: requirements,
      payload: { signature, permit2Authorization },
    },
    paymentRequirements: requirements,
  };
  return { body, nonce, digest: hashTypedData(typedData) };
}
