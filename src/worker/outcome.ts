// Reading what the chain did with an authorization: our receipt, someone else's transaction,
// or a cancellation. Every conclusion is backed by logs; anything unexplained goes to review.
import type { Logger } from "pino";
import type { Hex, PublicClient, TransactionReceipt } from "viem";
import type { SettlementRow, SettlementsRepo } from "../db/settlements-repo.js";
import { authorizationEvents, paymentInLogs, type ExpectedPayment } from "../evm/payment-logs.js";

/** How far back (in blocks) to look for a use of the authorization we did not send. */
export const LOG_LOOKBACK_BLOCKS = 5_000n;
export const CANCELED = "authorization_canceled";

export const expectedPayment = (row: SettlementRow): ExpectedPayment => ({
  asset: row.asset,
  from: row.payer,
  to: row.payTo,
  value: BigInt(row.value),
  nonce: row.nonce,
});

export interface OutcomeDeps {
  repo: Pick<SettlementsRepo, "transition" | "txsOf">;
  logger: Logger;
}

export async function markMined(deps: OutcomeDeps, row: SettlementRow, receipt: TransactionReceipt, ours: boolean) {
  return deps.repo.transition({
    id: row.id,
    from: row.state,
    version: row.version,
    to: "mined",
    txHash: receipt.transactionHash,
    patch: {
      settledTx: receipt.transactionHash,
      blockNumber: receipt.blockNumber,
      blockHash: receipt.blockHash,
      settledBy: ours ? "self" : "external",
      errorReason: null,
      errorMessage: null,
    },
    detail: { blockNumber: receipt.blockNumber.toString(), settledBy: ours ? "self" : "external" },
  });
}

export async function markEnded(
  deps: OutcomeDeps,
  row: SettlementRow,
  to: "failed" | "expired" | "canceled" | "needs_review",
  reason: string,
  message?: string,
) {
  deps.logger.warn({ settlementId: row.id, to, reason }, "settlement ended without our transfer");
  return deps.repo.transition({
    id: row.id,
    from: row.state,
    version: row.version,
    to,
    patch: { errorReason: reason, errorMessage: message?.slice(0, 500) },
    detail: { reason },
  });
}

/**
 * The authorization is spent on chain (authorizationState is true). Find out by whom: a
 * matching AuthorizationUsed + Transfer means the money arrived (ours or an external relay);
 * AuthorizationCanceled means the payer withdrew it.
 */
export async function resolveSpentAuthorization(deps: OutcomeDeps, client: PublicClient, row: SettlementRow, fromBlock: bigint) {
  const args = { authorizer: row.payer as Hex, nonce: row.nonce as Hex };
  const [used, canceled] = await Promise.all([
    client.getLogs({ address: row.asset as Hex, event: authorizationEvents.used, args, fromBlock, toBlock: "latest" }),
    client.getLogs({ address: row.asset as Hex, event: authorizationEvents.canceled, args, fromBlock, toBlock: "latest" }),
  ]);
  const use = used.find((l) => !l.removed);
  if (use?.transactionHash) {
    const receipt = await client.getTransactionReceipt({ hash: use.transactionHash });
    if (receipt.status === "success" && paymentInLogs(receipt.logs, expectedPayment(row))) {
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
