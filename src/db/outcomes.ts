// The two ways a settlement's story ends on chain, as ledger transitions: mined (by our
// transaction or someone else's, as a receipt shows) or ended without our transfer.
import type { Logger } from "pino";
import type { TransactionReceipt } from "viem";
import type { SettlementRow, SettlementsRepo } from "./settlements-repo.js";

/** How far back (in blocks) to look for a use of the authorization we did not send. */
export const LOG_LOOKBACK_BLOCKS = 5_000n;
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
