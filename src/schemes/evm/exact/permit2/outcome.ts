// What the chain says about an `exact` Permit2 settlement. Permit2 logs nothing when a nonce is
// used, so the evidence is the owner's nonce bit (spent), the token's Transfer(owner, payTo,
// amount) in a successful receipt of the row's own call (paid), and, for a nonce spent without
// us, a proxy settle naming this owner and nonce, alone or after a wallet's deployment (paid by
// someone else), or Permit2's UnorderedNonceInvalidation covering it (canceled). Anything else
// goes to review.
import { decodeFunctionData, isAddressEqual, parseEventLogs, type Address, type Hex, type Log, type PublicClient } from "viem";
import { markEnded, markMined, type OutcomeDeps } from "../../../../db/outcomes.js";
import type { SettlementRow } from "../../../../db/settlements-repo.js";
import { MULTICALL3, tryAggregateAbi } from "../../../../evm/multicall.js";
import type { ClassifiedSignature } from "../../../../evm/signature.js";
import type { Refusal } from "../../../scheme.js";
import { EXACT_PROXY, erc20Abi, exactProxyAbi, PERMIT2, permit2Abi } from "./contracts.js";
import { diagnose, nonceUsed, permit2612Of, permitOfRow, simulateSettle, type Permit } from "./permit.js";

export const CANCELED = "permit2_nonce_invalidated";

const transferOf = (logs: readonly Log[], p: Permit) =>
  parseEventLogs({ abi: erc20Abi, eventName: "Transfer", logs: logs.filter((l) => isAddressEqual(l.address, p.token)) }).some(
    (e) => isAddressEqual(e.args.from, p.owner) && isAddressEqual(e.args.to, p.to) && e.args.value === p.amount,
  );

export const paidIn = (logs: readonly Log[], row: SettlementRow) => transferOf(logs, permitOfRow(row));

export const isSpent = (client: PublicClient, row: SettlementRow) => nonceUsed(client, row.payer as Address, BigInt(row.nonce));

/** Whether a proxy call settles this owner's nonce. */
function settlesNonce(input: Hex, p: Permit): boolean {
  try {
    const call = decodeFunctionData({ abi: exactProxyAbi, data: input });
    // settleWithPermit carries the EIP-2612 permit first, then settle's arguments.
    if (call.functionName === "settle") return call.args[0].nonce === p.nonce && isAddressEqual(call.args[1], p.owner);
    if (call.functionName === "settleWithPermit") return call.args[1].nonce === p.nonce && isAddressEqual(call.args[2], p.owner);
    return false;
  } catch {
    return false;
  }
}

/** Whether a transaction settles it: a proxy call, or one inside a deploy-then-settle (ERC-6492). */
function settlesNonceIn(tx: { to: Address | null; input: Hex }, p: Permit): boolean {
  if (!tx.to) return false;
  if (isAddressEqual(tx.to, EXACT_PROXY)) return settlesNonce(tx.input, p);
  if (!isAddressEqual(tx.to, MULTICALL3)) return false;
  try {
    const { args } = decodeFunctionData({ abi: tryAggregateAbi, data: tx.input });
    return args[1].some((c) => isAddressEqual(c.target, EXACT_PROXY) && settlesNonce(c.callData, p));
  } catch {
    return false;
  }
}

export async function explainSpent(deps: OutcomeDeps, client: PublicClient, row: SettlementRow, fromBlock: bigint) {
  const p = permitOfRow(row);
  const [invalidations, transfers] = await Promise.all([
    client.getLogs({ address: PERMIT2, event: permit2Abi[1], args: { owner: p.owner }, fromBlock, toBlock: "latest" }),
    client.getLogs({ address: p.token, event: erc20Abi[2], args: { from: p.owner, to: p.to }, fromBlock, toBlock: "latest" }),
  ]);
  for (const t of transfers.filter((l) => !l.removed && l.args.value === p.amount)) {
    const tx = await client.getTransaction({ hash: t.transactionHash! });
    if (!settlesNonceIn(tx, p)) continue;
    const receipt = await client.getTransactionReceipt({ hash: tx.hash });
    if (receipt.status !== "success" || !transferOf(receipt.logs, p)) continue;
    const ours = (await deps.repo.txsOf(row.id)).some((s) => s.hash === tx.hash.toLowerCase());
    return markMined(deps, row, receipt, ours);
  }
  const bit = 1n << (p.nonce & 255n);
  if (invalidations.some((l) => !l.removed && l.args.word === p.nonce >> 8n && ((l.args.mask ?? 0n) & bit) !== 0n))
    return markEnded(deps, row, "canceled", CANCELED, "the payer invalidated the Permit2 nonce");
  return markEnded(deps, row, "needs_review", "permit2_nonce_used_unexplained", `no settle or invalidation found since block ${fromBlock}`);
}

export async function refusal(client: PublicClient, row: SettlementRow, signature: ClassifiedSignature): Promise<Refusal> {
  const p = permitOfRow(row);
  const simulation = await simulateSettle(client, p, signature, "pending", permit2612Of(row));
  if (simulation.ok) return undefined;
  if (await nonceUsed(client, p.owner, p.nonce)) return "spent";
  return { reason: await diagnose(client, p, !!signature.deployment), message: simulation.message };
}

export const wouldSucceed = async (client: PublicClient, row: SettlementRow, signature: ClassifiedSignature) =>
  (await simulateSettle(client, permitOfRow(row), signature, "pending", permit2612Of(row))).ok;
