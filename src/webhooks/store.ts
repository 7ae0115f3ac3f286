// The webhook tables: endpoints (operator-made, or the one WEBHOOK_URL names), and the delivery
// rows the outbox fans events out to, claimed one at a time by whichever worker sends them.
import { randomBytes } from "node:crypto";
import { and, desc, eq, isNull, lt, lte, or, sql } from "drizzle-orm";
import type { Db } from "../db/client.js";
import { guardDb } from "../db/ledger.js";
import { webhookDeliveries, webhookEndpoints, webhookEvents, WEBHOOK_DELIVERY_STATES, type WebhookEvent } from "../db/schema.js";

export type EndpointRow = typeof webhookEndpoints.$inferSelect;
export type DeliveryRow = typeof webhookDeliveries.$inferSelect;
export type DeliveryState = (typeof WEBHOOK_DELIVERY_STATES)[number];

/** A Standard Webhooks secret: whsec_ and 32 random bytes in base64. */
export const newSecret = () => `whsec_${randomBytes(32).toString("base64")}`;

/** The secrets a delivery is signed with now: the current one, and the previous one during its overlap. */
export const liveSecrets = (e: Pick<EndpointRow, "secret" | "previousSecret" | "previousSecretUntil">, now = new Date()) =>
  e.previousSecret && e.previousSecretUntil && e.previousSecretUntil > now ? [e.secret, e.previousSecret] : [e.secret];

export interface Claimed {
  delivery: DeliveryRow;
  endpoint: EndpointRow;
  event: { id: string; type: string; body: string };
}

export function createWebhookStore(db: Db) {
  return {
    /** Keeps the WEBHOOK_URL endpoint in step with the environment (removed when unset). */
    async syncEnvEndpoint(url: string | undefined, secret: string | undefined): Promise<void> {
      await guardDb("webhook endpoint", async () => {
        if (!url || !secret) {
          await db.delete(webhookEndpoints).where(eq(webhookEndpoints.source, "env"));
          return;
        }
        await db.execute(sql`
          INSERT INTO webhook_endpoints (url, secret, source) VALUES (${url}, ${secret}, 'env')
          ON CONFLICT (source) WHERE source = 'env'
          DO UPDATE SET url = EXCLUDED.url, secret = EXCLUDED.secret,
            disabled_at = CASE WHEN webhook_endpoints.url = EXCLUDED.url THEN webhook_endpoints.disabled_at END,
            disabled_reason = CASE WHEN webhook_endpoints.url = EXCLUDED.url THEN webhook_endpoints.disabled_reason END`);
      });
    },

    async create(e: { url: string; events?: WebhookEvent[]; payTo?: string[] }): Promise<EndpointRow> {
      const [row] = await guardDb("webhook endpoint", () =>
        db
          .insert(webhookEndpoints)
          .values({ url: e.url, secret: newSecret(), events: e.events ?? null, payTo: e.payTo ?? null, source: "api" })
          .returning(),
      );
      return row!;
    },

    list: () => guardDb("webhook endpoints", () => db.select().from(webhookEndpoints).orderBy(webhookEndpoints.createdAt)),

    async get(id: string): Promise<EndpointRow | undefined> {
      const [row] = await guardDb("webhook endpoint", () => db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, id)));
      return row;
    },

    async remove(id: string): Promise<boolean> {
      const rows = await guardDb("webhook endpoint", () =>
        db.delete(webhookEndpoints).where(eq(webhookEndpoints.id, id)).returning({ id: webhookEndpoints.id }),
      );
      return rows.length > 0;
    },

    /** A new secret; the old one keeps signing (alongside) for `overlapMs`. */
    async rotate(id: string, overlapMs: number): Promise<EndpointRow | undefined> {
      const [row] = await guardDb("webhook endpoint", () =>
        db
          .update(webhookEndpoints)
          .set({
            previousSecret: sql`${webhookEndpoints.secret}`,
            previousSecretUntil: new Date(Date.now() + overlapMs),
            secret: newSecret(),
          })
          .where(eq(webhookEndpoints.id, id))
          .returning(),
      );
      return row;
    },

    async deliveries(endpointId: string, o: { state?: DeliveryState; limit: number }) {
      return guardDb("webhook deliveries", () =>
        db
          .select({
            id: webhookDeliveries.id,
            eventId: webhookDeliveries.eventId,
            type: webhookEvents.type,
            settlementId: webhookEvents.settlementId,
            state: webhookDeliveries.state,
            attempts: webhookDeliveries.attempts,
            nextAttemptAt: webhookDeliveries.nextAttemptAt,
            lastStatus: webhookDeliveries.lastStatus,
            lastError: webhookDeliveries.lastError,
            deliveredAt: webhookDeliveries.deliveredAt,
            createdAt: webhookDeliveries.createdAt,
          })
          .from(webhookDeliveries)
          .innerJoin(webhookEvents, eq(webhookEvents.id, webhookDeliveries.eventId))
          .where(and(eq(webhookDeliveries.endpointId, endpointId), o.state ? eq(webhookDeliveries.state, o.state) : undefined))
          .orderBy(desc(webhookDeliveries.id))
          .limit(o.limit),
      );
    },

    /** Sends a delivery again from the first attempt (same event, same webhook-id). */
    async replay(endpointId: string, deliveryId: bigint): Promise<DeliveryRow | undefined> {
      const [row] = await guardDb("webhook replay", () =>
        db
          .update(webhookDeliveries)
          .set({ state: "pending", attempts: 0, nextAttemptAt: new Date(), lockedUntil: null, lastError: null })
          .where(and(eq(webhookDeliveries.id, deliveryId), eq(webhookDeliveries.endpointId, endpointId)))
          .returning(),
      );
      return row;
    },

    /** Deliveries owed now and held by nobody. */
    async due(limit: number): Promise<bigint[]> {
      const now = new Date();
      const rows = await guardDb("webhook deliveries due", () =>
        db
          .select({ id: webhookDeliveries.id })
          .from(webhookDeliveries)
          .where(
            and(
              eq(webhookDeliveries.state, "pending"),
              lte(webhookDeliveries.nextAttemptAt, now),
              or(isNull(webhookDeliveries.lockedUntil), lt(webhookDeliveries.lockedUntil, now)),
            ),
          )
          .orderBy(webhookDeliveries.nextAttemptAt)
          .limit(limit),
      );
      return rows.map((r) => r.id);
    },

    /** Takes a due delivery for `lockMs`, with what sending it needs; undefined when not due or held. */
    async claim(id: bigint, lockMs: number): Promise<Claimed | undefined> {
      return guardDb("webhook claim", async () => {
        const now = new Date();
        const [delivery] = await db
          .update(webhookDeliveries)
          .set({ lockedUntil: new Date(now.getTime() + lockMs) })
          .where(
            and(
              eq(webhookDeliveries.id, id),
              eq(webhookDeliveries.state, "pending"),
              lte(webhookDeliveries.nextAttemptAt, now),
              or(isNull(webhookDeliveries.lockedUntil), lt(webhookDeliveries.lockedUntil, now)),
            ),
          )
          .returning();
        if (!delivery) return undefined;
        const [both] = await db
          .select({ endpoint: webhookEndpoints, event: { id: webhookEvents.id, type: webhookEvents.type, body: webhookEvents.body } })
          .from(webhookEndpoints)
          .innerJoin(webhookEvents, eq(webhookEvents.id, delivery.eventId))
          .where(eq(webhookEndpoints.id, delivery.endpointId));
        return both ? { delivery, ...both } : undefined;
      });
    },

    /** Records an attempt's outcome: delivered, another try at `nextAt`, or given up. */
    async record(d: DeliveryRow, o: { state: DeliveryState; status?: number; error?: string; nextAt?: Date }): Promise<void> {
      await guardDb("webhook record", () =>
        db
          .update(webhookDeliveries)
          .set({
            state: o.state,
            attempts: d.attempts + 1,
            lastStatus: o.status ?? null,
            lastError: o.error ?? null,
            lockedUntil: null,
            ...(o.nextAt ? { nextAttemptAt: o.nextAt } : {}),
            ...(o.state === "delivered" ? { deliveredAt: new Date() } : {}),
          })
          .where(eq(webhookDeliveries.id, d.id)),
      );
    },

    /** The receiver said 410 Gone: no more deliveries to it, now or later. */
    async disable(endpointId: string, reason: string): Promise<void> {
      await guardDb("webhook disable", () =>
        db.transaction(async (tx) => {
          await tx
            .update(webhookEndpoints)
            .set({ disabledAt: new Date(), disabledReason: reason })
            .where(and(eq(webhookEndpoints.id, endpointId), isNull(webhookEndpoints.disabledAt)));
          await tx
            .update(webhookDeliveries)
            .set({ state: "disabled", lockedUntil: null })
            .where(and(eq(webhookDeliveries.endpointId, endpointId), eq(webhookDeliveries.state, "pending")));
        }),
      );
    },

    /** When the oldest delivery still owed was created (metrics), if any is. */
    async oldestPendingSince(): Promise<Date | undefined> {
      const [row] = await guardDb("webhook backlog", () =>
        db
          .select({ at: sql<Date | null>`min(${webhookDeliveries.createdAt})` })
          .from(webhookDeliveries)
          .where(eq(webhookDeliveries.state, "pending")),
      );
      return row?.at ? new Date(row.at) : undefined;
    },
  };
}

export type WebhookStore = ReturnType<typeof createWebhookStore>;
