// One Permit2 payment's fields as the chain sees them, from a payload or from its ledger row, and
// the reads and calls built on them for whichever scheme's proxy (route.ts) carries it.
import { getAddress, hashTypedData, type Address, type Hex, type PublicClient } from "viem";
import type { SettlementRow } from "../../../../db/settlements-repo.js";
import { afterDeployment } from "../../../../evm/multicall.js";
import { attempt } from "../../../../evm/payment-reads.js";
import type { ClassifiedSignature } from "../../../../evm/signature.js";
import type { Outcome } from "../../../../evm/transfer-simulator.js";
import { erc20Abi, PERMIT2, permit2Abi, proxyProbeAbi } from "./contracts.js";
import type { Permit2Authorization } from "./payload.js";
import { Permit2Reason } from "./reasons.js";
import type { Permit2Route } from "./route.js";
import { loadPermit, type Eip2612Permit, type StoredEip2612Permit } from "./sponsoring.js";

export interface Permit {
  owner: Address;
  token: Address;
  /** The permitted amount: what exact moves, and the most upto may. */
  amount: bigint;
  nonce: bigint;
  deadline: bigint;
  to: Address;
  validAfter: bigint;
  /** upto only: the facilitator allowed to settle (the proxy's caller). */
  facilitator?: Address;
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
  ...(a.witness.facilitator ? { facilitator: getAddress(a.witness.facilitator) } : {}),
});

/** What the ledger keeps beyond the common columns (see method.ts). */
export interface StoredPermit2 {
  spender: string;
  facilitator?: string;
  eip2612?: StoredEip2612Permit;
}
const storedOf = (row: SettlementRow) => (row.payload ?? {}) as Partial<StoredPermit2>;

/** The ledger keeps the nonce as 32-byte hex and the deadline as valid_before (see method.ts). */
export function permitOfRow(row: SettlementRow): Permit {
  const { facilitator } = storedOf(row);
  return {
    owner: getAddress(row.payer),
    token: getAddress(row.asset),
    amount: BigInt(row.value),
    nonce: BigInt(row.nonce),
    deadline: BigInt(row.validBefore),
    to: getAddress(row.payTo),
    validAfter: BigInt(row.validAfter),
    ...(facilitator ? { facilitator: getAddress(facilitator) } : {}),
  };
}

/** What the row's settlement moves: the charge when one was named (upto), else the permitted amount. */
export const chargeOf = (row: SettlementRow): bigint => BigInt(row.chargedAmount ?? row.value);

/** The EIP-2612 permit a sponsored row settles with (kept in the row's payload), if any. */
export function permit2612Of(row: SettlementRow): Eip2612Permit | undefined {
  const stored = storedOf(row).eip2612;
  return stored ? loadPermit(stored) : undefined;
}

export const nonceHex = (nonce: bigint): Hex => `0x${nonce.toString(16).padStart(64, "0")}`;

type WitnessTypes = Record<string, readonly { name: string; type: string }[]>;

/** The EIP-712 digest of a PermitWitnessTransferFrom for `spender`, with the scheme's witness types. */
export function permitDigest(p: Permit, chainId: number, spender: Address, types: WitnessTypes): Hex {
  return hashTypedData({
    domain: { name: "Permit2", chainId, verifyingContract: PERMIT2 },
    types,
    primaryType: "PermitWitnessTransferFrom",
    message: {
      permitted: { token: p.token, amount: p.amount },
      spender,
      nonce: p.nonce,
      deadline: p.deadline,
      witness: { to: p.to, validAfter: p.validAfter, ...(p.facilitator ? { facilitator: p.facilitator } : {}) },
    },
  });
}

/** What the relayer sends: the proxy's settle, after the payer wallet's deployment while it does not exist yet (ERC-6492). */
export const settleCall = (route: Permit2Route, p: Permit, amount: bigint, signature: ClassifiedSignature, permit2612?: Eip2612Permit) =>
  afterDeployment({ to: route.proxy, data: route.settleCalldata(p, amount, signature.inner, permit2612) }, signature.deployment);

/** The settlement's call, run by eth_call from the account that must send it: it reverts exactly when the transfer would. */
export const simulateSettle = (
  client: PublicClient,
  route: Permit2Route,
  p: Permit,
  amount: bigint,
  signature: ClassifiedSignature,
  blockTag?: "latest" | "pending",
  permit2612?: Eip2612Permit,
): Promise<Outcome<unknown>> =>
  attempt("simulate settle", () =>
    client.call({ account: route.sender(p), ...settleCall(route, p, amount, signature, permit2612), blockTag }),
  );

/**
 * Why a settle would revert, in the official order: proxy, balance, allowance to Permit2. A
 * wallet not deployed yet may approve Permit2 as it is deployed, so its allowance proves nothing.
 */
export async function diagnose(client: PublicClient, proxy: Address, p: Permit, amount: bigint, counterfactual = false): Promise<string> {
  const [probe, balance, allowance] = await Promise.all([
    attempt("PERMIT2()", () => client.readContract({ address: proxy, abi: proxyProbeAbi, functionName: "PERMIT2" })),
    attempt("balanceOf", () => client.readContract({ address: p.token, abi: erc20Abi, functionName: "balanceOf", args: [p.owner] })),
    attempt("allowance", () =>
      client.readContract({ address: p.token, abi: erc20Abi, functionName: "allowance", args: [p.owner, PERMIT2] }),
    ),
  ]);
  if (!probe.ok) return Permit2Reason.proxyMissing;
  if (balance.ok && balance.value < amount) return Permit2Reason.balance;
  if (!counterfactual && allowance.ok && allowance.value < amount) return Permit2Reason.allowance;
  return Permit2Reason.simulation;
}

/** Permit2's unordered nonces: a used one is a set bit in the owner's bitmap word. */
export async function nonceUsed(client: PublicClient, owner: Address, nonce: bigint): Promise<boolean> {
  const word = await attempt("nonceBitmap", () =>
    client.readContract({ address: PERMIT2, abi: permit2Abi, functionName: "nonceBitmap", args: [owner, nonce >> 8n] }),
  );
  return word.ok && ((word.value >> (nonce & 255n)) & 1n) === 1n;
}
