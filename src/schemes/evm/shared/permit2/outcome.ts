// What the chain says about a Permit2 settlement. Permit2 logs nothing when a nonce is used, so
// the evidence is the owner's nonce bit (spent), the token's Transfer(owner, payTo, charge) in a
// successful receipt of the row's own call (paid), and, for a nonce spent without us, a proxy
// settle naming this owner and nonce, alone or after a wallet's deployment (paid by someone
// else), or Permit2's UnorderedNonceInvalidation covering it (canceled). Anything else goes to
// review.
import { decodeFunctionData, isAddressEqual, parseEventLogs, type Address, type Hex, type Log, type PublicClient } from "viem";
import { markEnded, markMined, type OutcomeDeps } from "../../../../db/outcomes.js";
import type { SettlementRow } from "../../../../db/settlements-repo.js";
import { MULTICALL3, tryAggregateAbi } from "../../../../evm/multicall.js";
import type { ClassifiedSignature } from "../../../../evm/signature.js";
import type { Refusal, SettlementSide } from "../../../scheme.js";
import { erc20Abi, PERMIT2, permit2Abi } from "./contracts.js";
import { chargeOf, diagnose, nonceUsed, permit2612Of, permitOfRow, settleCall, simulateSettle, type Permit } from "./permit.js";
import { Permit2Reason } from "./reasons.js";
import type { Permit2Route } from "./route.js";

export const CANCELED = "permit2_nonce_invalidated";

const transferOf = (logs: readonly Log[], p: Permit, amount: bigint) =>
  parseEventLogs({ abi: erc20Abi, eventName: "Transfer", logs: logs.filter((l) => isAddressEqual(l.address, p.token)) }).some(
    (e) => isAddressEqual(e.args.from, p.owner) && isAddressEqual(e.args.to, p.to) && e.args.value === amount,
  );

export function permit2Settlement(route: Permit2Route): SettlementSide {
  /** Whether a transaction settles the permit: a proxy call, or one inside a deploy-then-settle (ERC-6492). */
  function settlesIn(tx: { to: Address | null; input: Hex }, p: Permit): boolean {
    if (!tx.to) return false;
    if (isAddressEqual(tx.to, route.proxy)) return route.settles(tx.input, p);
    if (!isAddressEqual(tx.to, MULTICALL3)) return false;
    try {
      const { args } = decodeFunctionData({ abi: tryAggregateAbi, data: tx.input });
      return args[1].some((c) => isAddressEqual(c.target, route.proxy) && route.settles(c.callData, p));
    } catch {
      return false;
    }
  }

  async function explainSpent(deps: OutcomeDeps, client: PublicClient, row: SettlementRow, fromBlock: bigint) {
    const p = permitOfRow(row);
    const amount = chargeOf(row);
    const [invalidations, transfers] = await Promise.all([
      client.getLogs({ address: PERMIT2, event: permit2Abi[1], args: { owner: p.owner }, fromBlock, toBlock: "latest" }),
      client.getLogs({ address: p.token, event: erc20Abi[2], args: { from: p.owner, to: p.to }, fromBlock, toBlock: "latest" }),
    ]);
    for (const t of transfers.filter((l) => !l.removed && l.args.value === amount)) {
      const tx = await client.getTransaction({ hash: t.transactionHash! });
      if (!settlesIn(tx, p)) continue;
      const receipt = await client.getTransactionReceipt({ hash: tx.hash });
      if (receipt.status !== "success" || !transferOf(receipt.logs, p, amount)) continue;
      const ours = (await deps.repo.txsOf(row.id)).some((s) => s.hash === tx.hash.toLowerCase());
      return markMined(deps, row, receipt, ours);
    }
    const bit = 1n << (p.nonce & 255n);
    if (invalidations.some((l) => !l.removed && l.args.word === p.nonce >> 8n && ((l.args.mask ?? 0n) & bit) !== 0n))
      return markEnded(deps, row, "canceled", CANCELED, "the payer invalidated the Permit2 nonce");
    return markEnded(
      deps,
      row,
      "needs_review",
      "permit2_nonce_used_unexplained",
      `no settle or invalidation found since block ${fromBlock}`,
    );
  }

  const simulate = (client: PublicClient, row: SettlementRow, signature: ClassifiedSignature) =>
    simulateSettle(client, route, permitOfRow(row), chargeOf(row), signature, "pending", permit2612Of(row));

  async function refusal(client: PublicClient, row: SettlementRow, signature: ClassifiedSignature): Promise<Refusal> {
    const simulation = await simulate(client, row, signature);
    if (simulation.ok) return undefined;
    const p = permitOfRow(row);
    if (await nonceUsed(client, p.owner, p.nonce)) return "spent";
    return { reason: await diagnose(client, route.proxy, p, chargeOf(row), !!signature.deployment), message: simulation.message };
  }

  return {
    call: (row, signature) => settleCall(route, permitOfRow(row), chargeOf(row), signature, permit2612Of(row)),
    sender: (row) => route.sender(permitOfRow(row)),
    isSpent: (client, row) => nonceUsed(client, row.payer as Address, BigInt(row.nonce)),
    paidIn: (logs, row) => transferOf(logs, permitOfRow(row), chargeOf(row)),
    explainSpent,
    refusal,
    expiredReason: Permit2Reason.deadline,
    usedReason: Permit2Reason.nonce,
    // Each row's receipt must carry only its own transfer: paidIn matches one Transfer per call.
    batchable: () => false,
  };
}
