// What the chain says about an EIP-3009 settlement: the token's authorizationState is the used-
// nonce evidence, AuthorizationUsed + Transfer(from, payTo, value) in one receipt is a payment,
// and AuthorizationCanceled is the payer withdrawing it. Every conclusion is backed by logs;
// anything unexplained goes to review.
import type { Hex, Log, PublicClient } from "viem";
import { markEnded, markMined, type OutcomeDeps } from "../../../../db/outcomes.js";
import type { SettlementRow } from "../../../../db/settlements-repo.js";
import { authorizationEvents, paymentInLogs, type ExpectedPayment } from "../../../../evm/payment-logs.js";
import { readAuthorizationState, readPaymentState } from "../../../../evm/payment-reads.js";
import type { ClassifiedSignature } from "../../../../evm/signature.js";
import { Reason } from "../../../../x402/reasons.js";
import type { Refusal } from "../../../scheme.js";
import { authOf } from "./call.js";

export const CANCELED = "authorization_canceled";

const expectedPayment = (row: SettlementRow): ExpectedPayment => ({
  asset: row.asset,
  from: row.payer,
  to: row.payTo,
  value: BigInt(row.value),
  nonce: row.nonce,
});

export const paidIn = (logs: readonly Log[], row: SettlementRow) => paymentInLogs(logs, expectedPayment(row));

export const isSpent = (client: PublicClient, row: SettlementRow) =>
  readAuthorizationState(client, row.asset as Hex, row.payer as Hex, row.nonce as Hex);

/**
 * The authorization is spent on chain. Find out by whom: a matching AuthorizationUsed + Transfer
 * means the money arrived (ours or an external relay); AuthorizationCanceled means the payer
 * withdrew it.
 */
export async function explainSpent(deps: OutcomeDeps, client: PublicClient, row: SettlementRow, fromBlock: bigint) {
  const args = { authorizer: row.payer as Hex, nonce: row.nonce as Hex };
  const [used, canceled] = await Promise.all([
    client.getLogs({ address: row.asset as Hex, event: authorizationEvents.used, args, fromBlock, toBlock: "latest" }),
    client.getLogs({ address: row.asset as Hex, event: authorizationEvents.canceled, args, fromBlock, toBlock: "latest" }),
  ]);
  const use = used.find((l) => !l.removed);
  if (use?.transactionHash) {
    const receipt = await client.getTransactionReceipt({ hash: use.transactionHash });
    if (receipt.status === "success" && paidIn(receipt.logs, row)) {
      const ours = (await deps.repo.txsOf(row.id)).some((t) => t.hash === receipt.transactionHash.toLowerCase());
      return markMined(deps, row, receipt, ours);
    }
    return markEnded(deps, row, "needs_review", "authorization_used_without_matching_transfer", `used in ${use.transactionHash}`);
  }
  if (canceled.some((l) => !l.removed)) return markEnded(deps, row, "canceled", CANCELED, "the payer canceled the authorization");
  return markEnded(
    deps,
    row,
    "needs_review",
    "authorization_spent_unexplained",
    `no AuthorizationUsed/Canceled log since block ${fromBlock}`,
  );
}

/** Why the token refuses the transfer at the pending block, named as verify would name it. */
export async function refusal(client: PublicClient, row: SettlementRow, signature: ClassifiedSignature): Promise<Refusal> {
  const state = await readPaymentState(client, {
    asset: row.asset as Hex,
    auth: authOf(row),
    signature,
    assetKnownDeployed: true,
    blockTag: "pending",
  });
  if (state.authorizationUsed) return "spent";
  if (state.simulation.ok) return undefined;
  const reason =
    state.authorizationUsed === undefined
      ? Reason.eip3009NotSupported
      : state.balance !== undefined && state.balance < BigInt(row.value)
        ? Reason.insufficientBalance
        : Reason.simulationFailed;
  return { reason, message: state.simulation.message };
}
