// What /settle says about a ledger row. Only a receipt-backed row is a success; a row whose
// outcome is not known yet is "settlement_pending" (never a failure), with the hash to watch.
import type { SettlementRow } from "../db/settlements-repo.js";
import { TERMINAL_STATES } from "../db/schema.js";
import { Reason } from "../x402/reasons.js";

export interface SettleResponse {
  success: boolean;
  errorReason?: string;
  errorMessage?: string;
  payer: string;
  transaction: string;
  network: string;
  /** What was charged, for a scheme that names it at settlement (upto). */
  amount?: string;
}

/** States in which /settle has its final answer (success or failure). */
export const isDecided = (row: Pick<SettlementRow, "state">) => row.state === "mined" || TERMINAL_STATES.has(row.state);

export function answerFromRow(row: SettlementRow, payer: string, network: string): SettleResponse {
  if (row.state === "mined" || row.state === "confirmed") {
    return { success: true, payer, transaction: row.settledTx ?? "", network, ...chargeOf(row) };
  }
  if (TERMINAL_STATES.has(row.state)) {
    return {
      success: false,
      errorReason: row.errorReason ?? Reason.transactionFailed,
      ...(row.errorMessage ? { errorMessage: row.errorMessage } : {}),
      payer,
      transaction: row.latestTx ?? "",
      network,
    };
  }
  return { success: false, errorReason: Reason.settlementPending, payer, transaction: row.latestTx ?? "", network };
}

const chargeOf = (row: SettlementRow) => (row.chargedAmount === null ? {} : { amount: row.chargedAmount });

export function failure(errorReason: string, payer: string, network: string, errorMessage?: string): SettleResponse {
  return { success: false, errorReason, ...(errorMessage ? { errorMessage } : {}), payer, transaction: "", network };
}
