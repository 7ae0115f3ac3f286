// A transaction that carries a batch is one raw transaction for several settlements: each of them
// gets its row in settlement_txs (its own record of every hash that can land for it), but the raw
// bytes, many kilobytes for a batch, are written once, on the first member's row; the others hold
// an empty string. Every read fills them in from that row, so callers always see the raw bytes.
import { getTableColumns, sql } from "drizzle-orm";
import { settlementTxs } from "./schema.js";

/** settlement_txs' columns, with raw_tx read from the row of the same hash that holds it. */
export const storedTxColumns = {
  ...getTableColumns(settlementTxs),
  rawTx:
    sql<string>`coalesce(nullif(${settlementTxs.rawTx}, ''), (select b.raw_tx from settlement_txs b where b.hash = ${settlementTxs.hash} and b.raw_tx <> '' limit 1))`.as(
      "raw_tx",
    ),
};

/** The rows to insert, raw bytes kept only on the first row of each hash. */
export function oncePerHash<T extends { hash: string; rawTx: string }>(rows: T[]): T[] {
  const seen = new Set<string>();
  return rows.map((r) => (seen.has(r.hash) ? { ...r, rawTx: "" } : (seen.add(r.hash), r)));
}
