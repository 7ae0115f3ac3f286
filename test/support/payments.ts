// Builders for signed EIP-3009 authorizations and the v1/v2 bodies the official middleware
// posts to /verify and /settle. Overrides let a test break exactly one thing.
import { randomBytes } from "node:crypto";
import { hashTypedData, type Address, type Hex, type LocalAccount } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import type { Authorization } from "../../src/evm/typed-data.js";

export const TRANSFER_TYPES = {
  TransferWithAuthorization: [
    { name: "from", type: "address" },
    { name: "to", type: "address" },
    { name: "value", type: "uint256" },
    { name: "validAfter", type: "uint256" },
    { name: "validBefore", type: "uint256" },
    { name: "nonce", type: "bytes32" },
  ],
} as const;

/** The signed EIP-3009 fields, as the facilitator reads them. */
export type AuthorizationFields = Authorization;

export interface SignOptions {
  payer: LocalAccount;
  payTo: Address;
  value: bigint;
  asset: Address;
  chainId: number;
  name?: string;
  version?: string;
  validAfter?: bigint;
  validBefore?: bigint;
  nonce?: Hex;
}

export const now = () => BigInt(Math.floor(Date.now() / 1000));
export const randomNonce = (): Hex => `0x${randomBytes(32).toString("hex")}`;

export async function signAuthorization(o: SignOptions): Promise<{ authorization: AuthorizationFields; signature: Hex }> {
  const authorization: AuthorizationFields = {
    from: o.payer.address,
    to: o.payTo,
    value: o.value.toString(),
    validAfter: (o.validAfter ?? now() - 600n).toString(),
    validBefore: (o.validBefore ?? now() + 300n).toString(),
    nonce: o.nonce ?? randomNonce(),
  };
  const signature = await o.payer.signTypedData({
    domain: { name: o.name ?? "USDC", version: o.version ?? "2", chainId: o.chainId, verifyingContract: o.asset },
    types: TRANSFER_TYPES,
    primaryType: "TransferWithAuthorization",
    message: {
      ...authorization,
      value: BigInt(authorization.value),
      validAfter: BigInt(authorization.validAfter),
      validBefore: BigInt(authorization.validBefore),
    },
  });
  return { authorization, signature };
}

/**
 * A payment from a contract wallet: the EIP-712 digest signed raw by `signer`, which is what
 * the test AcceptingWallet checks in isValidSignature.
 */
export async function signAsWallet(o: {
  wallet: Address;
  signer: LocalAccount;
  payTo: Address;
  value: bigint;
  asset: Address;
  chainId: number;
}) {
  const authorization: AuthorizationFields = {
    from: o.wallet,
    to: o.payTo,
    value: o.value.toString(),
    validAfter: "0",
    validBefore: (now() + 300n).toString(),
    nonce: randomNonce(),
  };
  const digest = hashTypedData({
    domain: { name: "USDC", version: "2", chainId: o.chainId, verifyingContract: o.asset },
    types: TRANSFER_TYPES,
    primaryType: "TransferWithAuthorization",
    message: { ...authorization, value: o.value, validAfter: 0n, validBefore: BigInt(authorization.validBefore) },
  });
  return { authorization, signature: await o.signer.sign!({ hash: digest }) };
}

export interface BodyOptions {
  authorization: AuthorizationFields;
  signature: Hex;
  asset: Address;
  payTo: Address;
  amount: bigint;
  /** v1 name for v1 bodies, CAIP-2 for v2 bodies */
  network: string;
  extra?: Record<string, unknown>;
  scheme?: string;
}

export function v2Body(o: BodyOptions) {
  const requirements = {
    scheme: o.scheme ?? "exact",
    network: o.network,
    amount: o.amount.toString(),
    asset: o.asset,
    payTo: o.payTo,
    maxTimeoutSeconds: 300,
    extra: o.extra ?? { name: "USDC", version: "2" },
  };
  return {
    x402Version: 2,
    paymentPayload: {
      x402Version: 2,
      resource: { url: "http://localhost/paid", description: "test", mimeType: "application/json" },
      accepted: requirements,
      payload: { signature: o.signature, authorization: o.authorization },
    },
    paymentRequirements: requirements,
  };
}

export function v1Body(o: BodyOptions) {
  return {
    x402Version: 1,
    paymentPayload: {
      x402Version: 1,
      scheme: o.scheme ?? "exact",
      network: o.network,
      payload: { signature: o.signature, authorization: o.authorization },
    },
    paymentRequirements: {
      scheme: o.scheme ?? "exact",
      network: o.network,
      maxAmountRequired: o.amount.toString(),
      resource: "http://localhost/paid",
      description: "test",
      mimeType: "application/json",
      payTo: o.payTo,
      maxTimeoutSeconds: 60,
      asset: o.asset,
      extra: o.extra ?? { name: "USDC", version: "2" },
    },
  };
}

/** What fundedPayment needs of a test chain. */
interface PayableChain {
  chainId: number;
  usdc: { address: Address };
  fund(to: Address, usdc: string): Promise<void>;
}

/** A fresh buyer holding `usdc`, and its signed v2 payment of `value` to `payTo` on Base Sepolia. */
export async function fundedPayment(chain: PayableChain, o: { payTo: Address; value: bigint; usdc?: string; validBefore?: bigint }) {
  const buyer = privateKeyToAccount(generatePrivateKey());
  await chain.fund(buyer.address, o.usdc ?? "1");
  const signed = await signAuthorization({
    payer: buyer,
    payTo: o.payTo,
    value: o.value,
    asset: chain.usdc.address,
    chainId: chain.chainId,
    validBefore: o.validBefore,
  });
  const body = v2Body({ ...signed, asset: chain.usdc.address, payTo: o.payTo, amount: o.value, network: "eip155:84532" });
  return { buyer, ...signed, body };
}
