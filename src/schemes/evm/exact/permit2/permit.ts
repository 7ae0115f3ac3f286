// One Permit2 payment's fields as the chain sees them, from a payload or from its ledger row, and
// the calldata and reads built on them.
import { encodeFunctionData, getAddress, hashTypedData, type Address, type Hex, type PublicClient } from "viem";
import type { SettlementRow } from "../../../../db/settlements-repo.js";
import { afterDeployment } from "../../../../evm/multicall.js";
import { attempt } from "../../../../evm/payment-reads.js";
import type { ClassifiedSignature } from "../../../../evm/signature.js";
import type { Outcome } from "../../../../evm/transfer-simulator.js";
import { EXACT_PROXY, erc20Abi, exactProxyAbi, PERMIT2, permit2Abi, witnessTypes } from "./contracts.js";
import type { Permit2Authorization } from "./payload.js";
import { Permit2Reason } from "./reasons.js";
import { loadPermit, type Eip2612Permit, type StoredEip2612Permit } from "./sponsoring.js";

export interface Permit {
  owner: Address;
  token: Address;
  amount: bigint;
  nonce: bigint;
  deadline: bigint;
  to: Address;
  validAfter: bigint;
}

/** Addresses are checksummed here: the payload may carry any case (a wrong mixed-case checksum too, as the official verify accepts), and EIP-712 and ABI encoding take only canonical ones. */
export const permitOf = (a: Permit2Authorization): Permit => ({
  owner: getAddress(a.from),
  token: getAddress(a.permitted.token),
  amount: BigInt(a.permitted.amount),
  nonce: BigInt(a.nonce),
  deadline: BigInt(a.deadline),
  to: getAddress(a.witness.to),
  validAfter: BigInt(a.witness.validAfter),
});

/** The ledger keeps the nonce as 32-byte hex and the deadline as valid_before (see ledgerEntry). */
export const permitOfRow = (row: SettlementRow): Permit => ({
  owner: getAddress(row.payer),
  token: getAddress(row.asset),
  amount: BigInt(row.value),
  nonce: BigInt(row.nonce),
  deadline: BigInt(row.validBefore),
  to: getAddress(row.payTo),
  validAfter: BigInt(row.validAfter),
});

/** The EIP-2612 permit a sponsored row settles with (kept in the row's payload), if any. */
export const permit2612Of = (row: SettlementRow): Eip2612Permit | undefined => {
  const stored = (row.payload as { eip2612?: StoredEip2612Permit } | null)?.eip2612;
  return stored ? loadPermit(stored) : undefined;
};

export const nonceHex = (nonce: bigint): Hex => `0x${nonce.toString(16).padStart(64, "0")}`;

export function permitDigest(p: Permit, chainId: number, spender: Address): Hex {
  return hashTypedData({
    domain: { name: "Permit2", chainId, verifyingContract: PERMIT2 },
    types: witnessTypes,
    primaryType: "PermitWitnessTransferFrom",
    message: {
      permitted: { token: p.token, amount: p.amount },
      spender,
      nonce: p.nonce,
      deadline: p.deadline,
      witness: { to: p.to, validAfter: p.validAfter },
    },
  });
}

/** The proxy's settle, or settleWithPermit when the payer's EIP-2612 permit rides along. */
export function settleCalldata(p: Permit, signature: Hex, permit2612?: Eip2612Permit): Hex {
  const common = [
    { permitted: { token: p.token, amount: p.amount }, nonce: p.nonce, deadline: p.deadline },
    p.owner,
    { to: p.to, validAfter: p.validAfter },
    signature,
  ] as const;
  return permit2612
    ? encodeFunctionData({ abi: exactProxyAbi, functionName: "settleWithPermit", args: [permit2612, ...common] })
    : encodeFunctionData({ abi: exactProxyAbi, functionName: "settle", args: common });
}

/** What the relayer sends: the proxy's settle, after the payer wallet's deployment while it does not exist yet (ERC-6492). */
export const settleCall = (p: Permit, signature: ClassifiedSignature, permit2612?: Eip2612Permit) =>
  afterDeployment({ to: EXACT_PROXY, data: settleCalldata(p, signature.inner, permit2612) }, signature.deployment);

/** The settlement's call, run by eth_call: it reverts exactly when the transfer would. */
export const simulateSettle = (
  client: PublicClient,
  p: Permit,
  signature: ClassifiedSignature,
  blockTag?: "latest" | "pending",
  permit2612?: Eip2612Permit,
): Promise<Outcome<unknown>> => attempt("simulate settle", () => client.call({ ...settleCall(p, signature, permit2612), blockTag }));

/**
 * Why a settle would revert, in the official order: proxy, balance, allowance to Permit2. A
 * wallet not deployed yet may approve Permit2 as it is deployed, so its allowance proves nothing.
 */
export async function diagnose(client: PublicClient, p: Permit, counterfactual = false): Promise<string> {
  const [proxy, balance, allowance] = await Promise.all([
    attempt("PERMIT2()", () => client.readContract({ address: EXACT_PROXY, abi: exactProxyAbi, functionName: "PERMIT2" })),
    attempt("balanceOf", () => client.readContract({ address: p.token, abi: erc20Abi, functionName: "balanceOf", args: [p.owner] })),
    attempt("allowance", () =>
      client.readContract({ address: p.token, abi: erc20Abi, functionName: "allowance", args: [p.owner, PERMIT2] }),
    ),
  ]);
  if (!proxy.ok) return Permit2Reason.proxyMissing;
  if (balance.ok && balance.value < p.amount) return Permit2Reason.balance;
  if (!counterfactual && allowance.ok && allowance.value < p.amount) return Permit2Reason.allowance;
  return Permit2Reason.simulation;
}

/** Permit2's unordered nonces: a used one is a set bit in the owner's bitmap word. */
export async function nonceUsed(client: PublicClient, owner: Address, nonce: bigint): Promise<boolean> {
  const word = await attempt("nonceBitmap", () =>
    client.readContract({ address: PERMIT2, abi: permit2Abi, functionName: "nonceBitmap", args: [owner, nonce >> 8n] }),
  );
  return word.ok && ((word.value >> (nonce & 255n)) & 1n) === 1n;
}
