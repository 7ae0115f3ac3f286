// Webhook endpoints as the operator manages them (admin key): create one (its secret is shown
// this once), list, delete, rotate the secret (the old one keeps signing alongside for a day),
// list an endpoint's deliveries and send one again.
import type { FastifyInstance, FastifyReply, preHandlerAsyncHookHandler } from "fastify";
import { z } from "zod";
import { WEBHOOK_DELIVERY_STATES } from "../../db/schema.js";
import { WEBHOOK_EVENTS } from "../../webhooks/outbox.js";
import type { EndpointRow, WebhookStore } from "../../webhooks/store.js";
import type { webhookDeliverySchema, webhookEndpointSchema } from "../openapi/resources.js";
import { targetProblem } from "../../webhooks/targets.js";
import { badRequest, lowerAddress, pageLimit } from "../invalid-request.js";

export const ROTATION_OVERLAP_MS = 24 * 3600_000;

export interface WebhooksRouteDeps {
  store: WebhookStore;
  allowPrivate: boolean;
  auth: preHandlerAsyncHookHandler;
}

export const createBody = z.strictObject({
  url: z.string().max(2048),
  events: z.array(z.enum(WEBHOOK_EVENTS)).min(1).max(WEBHOOK_EVENTS.length).optional(),
  payTo: z.array(lowerAddress).min(1).max(100).optional(),
});
const idParams = z.strictObject({ id: z.uuid() });
const deliveryParams = z.strictObject({ id: z.uuid(), deliveryId: z.string().regex(/^[1-9][0-9]{0,17}$/, "must be a delivery id") });
export const deliveriesQuery = z.strictObject({
  state: z.enum(WEBHOOK_DELIVERY_STATES).optional(),
  limit: pageLimit.optional(),
});

export function presentEndpoint(e: EndpointRow): z.infer<typeof webhookEndpointSchema> {
  return {
    id: e.id,
    url: e.url,
    events: e.events,
    payTo: e.payTo,
    source: e.source,
    disabledAt: e.disabledAt?.toISOString() ?? null,
    disabledReason: e.disabledReason,
    previousSecretValidUntil: e.previousSecretUntil && e.previousSecretUntil > new Date() ? e.previousSecretUntil.toISOString() : null,
    createdAt: e.createdAt.toISOString(),
  };
}

type DeliveryRow = Awaited<ReturnType<WebhookStore["deliveries"]>>[number];

export const presentDelivery = (d: DeliveryRow): z.infer<typeof webhookDeliverySchema> => ({
  ...d,
  id: d.id.toString(),
  nextAttemptAt: d.nextAttemptAt.toISOString(),
  deliveredAt: d.deliveredAt?.toISOString() ?? null,
  createdAt: d.createdAt.toISOString(),
});

const notFound = (reply: FastifyReply, what: string) => reply.code(404).send({ error: "not_found", message: `no such ${what}` });

export async function webhooksRoute(app: FastifyInstance, deps: WebhooksRouteDeps): Promise<void> {
  const { store } = deps;

  app.post("/webhooks", { preHandler: deps.auth }, async (req, reply) => {
    const parsed = createBody.safeParse(req.body ?? {});
    if (!parsed.success) return badRequest(reply, parsed.error, "(body)");
    const problem = await targetProblem(parsed.data.url, deps.allowPrivate);
    if (problem) return reply.code(400).send({ error: "invalid_request", field: "url", message: `url: ${problem}` });
    const row = await store.create(parsed.data);
    // The only time the secret is shown: the receiver needs it to verify signatures.
    return reply.code(201).send({ ...presentEndpoint(row), secret: row.secret });
  });

  app.get("/webhooks", { preHandler: deps.auth }, async () => ({ items: (await store.list()).map(presentEndpoint) }));

  app.delete("/webhooks/:id", { preHandler: deps.auth }, async (req, reply) => {
    const params = idParams.safeParse(req.params);
    if (!params.success) return badRequest(reply, params.error);
    if (!(await store.remove(params.data.id))) return notFound(reply, "webhook endpoint");
    return reply.code(204).send();
  });

  app.post("/webhooks/:id/rotate", { preHandler: deps.auth }, async (req, reply) => {
    const params = idParams.safeParse(req.params);
    if (!params.success) return badRequest(reply, params.error);
    const row = await store.rotate(params.data.id, ROTATION_OVERLAP_MS);
    if (!row) return notFound(reply, "webhook endpoint");
    return { ...presentEndpoint(row), secret: row.secret };
  });

  app.get("/webhooks/:id/deliveries", { preHandler: deps.auth }, async (req, reply) => {
    const params = idParams.safeParse(req.params);
    if (!params.success) return badRequest(reply, params.error);
    const query = deliveriesQuery.safeParse(req.query);
    if (!query.success) return badRequest(reply, query.error);
    if (!(await store.get(params.data.id))) return notFound(reply, "webhook endpoint");
    const rows = await store.deliveries(params.data.id, { state: query.data.state, limit: query.data.limit ?? 100 });
    return { items: rows.map(presentDelivery) };
  });

  app.post("/webhooks/:id/deliveries/:deliveryId/replay", { preHandler: deps.auth }, async (req, reply) => {
    const params = deliveryParams.safeParse(req.params);
    if (!params.success) return badRequest(reply, params.error);
    const row = await store.replay(params.data.id, BigInt(params.data.deliveryId));
    if (!row) return notFound(reply, "delivery of this endpoint");
    return reply.code(202).send({ id: row.id.toString(), state: row.state, nextAttemptAt: row.nextAttemptAt.toISOString() });
  });
}
