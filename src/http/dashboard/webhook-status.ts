// Every webhook endpoint with the deliveries that are going wrong: given up on (failed), or still
// owed after at least one failed attempt.
import type { z } from "zod";
import type { webhookStatusSchema } from "../openapi/resources.js";
import { presentDelivery, presentEndpoint } from "../routes/webhooks.js";
import type { WebhookStore } from "../../webhooks/store.js";

/** Per endpoint and kind: enough to see the pattern; the full list is GET /webhooks/:id/deliveries. */
const SHOWN = 20;

/** Typed by the schema GET /webhooks/failing-deliveries documents. */
export type WebhookStatus = z.infer<typeof webhookStatusSchema>;

export function webhookStatusReader(store: WebhookStore): () => Promise<WebhookStatus[]> {
  return async () => {
    const endpoints = await store.list();
    return Promise.all(
      endpoints.map(async (e) => {
        const [failed, pending] = await Promise.all([
          store.deliveries(e.id, { state: "failed", limit: SHOWN }),
          store.deliveries(e.id, { state: "pending", limit: 5 * SHOWN }),
        ]);
        const failing = [...failed, ...pending.filter((d) => d.attempts > 0).slice(0, SHOWN)].sort((a, b) =>
          a.id === b.id ? 0 : a.id < b.id ? 1 : -1,
        );
        return { ...presentEndpoint(e), failingDeliveries: failing.map(presentDelivery) };
      }),
    );
  };
}
