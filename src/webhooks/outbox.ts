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
