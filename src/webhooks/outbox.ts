// The outbox: a webhook event is written in the same transaction as the ledger change it
// reports, with a delivery row for every enabled endpoint whose filters take it. Whatever
// happens to the worker or to Redis afterwards, the rows say what is still owed to whom.
import { sql } from "drizzle-orm";
import type { SettlementState, WebhookEvent } from "../db/schema.js";
import type { SettlementRow } from "../db/settlements-repo.js";
import { presentSettlement } from "../settle/present.js";

export { WEBHOOK_EVENTS, type WebhookEvent } from "../db/schema.js";

const BY_STATE: Partial<Record<SettlementState, WebhookEvent>> = {
  submitted: "settlement.submitted",
  confirmed: "settlement.confirmed",
  failed: "settlement.failed",
  rejected: "settlement.failed",
  canceled: "settlement.canceled",
  expired: "settlement.expired",
  needs_review: "settlement.needs_review",
};

/** The event a move reports, if any (a replacement stays in its state and reports nothing). */
export const eventFor = (from: SettlementState | null, to: SettlementState): WebhookEvent | undefined =>
  from === to ? undefined : BY_STATE[to];

/** Anything that runs SQL inside the ledger's transaction. */
interface SqlRunner {
  execute(query: ReturnType<typeof sql>): Promise<unknown>;
}

/** writeEvent for many moves at once: one statement, whatever their number. */
export async function writeEvents(tx: SqlRunner, moves: { row: SettlementRow; type: WebhookEvent }[]): Promise<void> {
  if (!moves.length) return;
  if (moves.length === 1) return writeEvent(tx, moves[0]!.row, moves[0]!.type);
  const items = moves.map(({ row, type }) => ({
    type,
    settlement_id: row.id,
    pay_to: row.payTo,
    body: JSON.stringify({ type, timestamp: new Date().toISOString(), data: presentSettlement(row) }),
  }));
  await tx.execute(sql`
    WITH item AS (
      SELECT * FROM jsonb_to_recordset(${JSON.stringify(items)}::jsonb) AS x(type text, settlement_id uuid, pay_to text, body text)
    ), event AS (
      INSERT INTO webhook_events (type, settlement_id, body) SELECT type, settlement_id, body FROM item RETURNING id, type, settlement_id
    )
    INSERT INTO webhook_deliveries (event_id, endpoint_id)
    SELECT event.id, e.id FROM event JOIN item ON item.settlement_id = event.settlement_id AND item.type = event.type, webhook_endpoints e
    WHERE e.disabled_at IS NULL
      AND (e.events IS NULL OR event.type = ANY (e.events))
      AND (e.pay_to IS NULL OR item.pay_to = ANY (e.pay_to))`);
}

export async function writeEvent(tx: SqlRunner, row: SettlementRow, type: WebhookEvent): Promise<void> {
  const body = JSON.stringify({ type, timestamp: new Date().toISOString(), data: presentSettlement(row) });
  await tx.execute(sql`
    WITH event AS (
      INSERT INTO webhook_events (type, settlement_id, body) VALUES (${type}, ${row.id}, ${body}) RETURNING id
    )
    INSERT INTO webhook_deliveries (event_id, endpoint_id)
    SELECT event.id, e.id FROM event, webhook_endpoints e
    WHERE e.disabled_at IS NULL
      AND (e.events IS NULL OR ${type} = ANY (e.events))
      AND (e.pay_to IS NULL OR ${row.payTo} = ANY (e.pay_to))`);
}
