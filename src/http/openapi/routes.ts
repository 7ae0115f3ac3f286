// What the OpenAPI document says of each route, keyed "METHOD /path" as the app registers it.
// Bodies and queries are the zod schemas the handlers parse with; answers are the zod shapes of
// resources.ts. A route missing here fails the document test, so none goes undocumented.
import { z } from "zod";
import { PAYLOAD_SCHEMAS } from "../../schemes/methods.js";
import { noQuery, statsQuery } from "../dashboard/operator-routes.js";
import { authQuery, listQuery } from "../routes/settlements.js";
import { createBody, deliveriesQuery } from "../routes/webhooks.js";
import { facilitatorBodySchema } from "./facilitator-body.js";
import { DISCOVERY_DOCS } from "./discovery-docs.js";
import { jsonSchema } from "./json-schema.js";
import * as R from "./resources.js";

type Doc = Record<string, unknown>;

const json = (description: string, schema: z.ZodType) => ({ description, ...jsonSchema(schema) });
const error = (description: string) => json(description, R.errorSchema);
const unavailable = error("Postgres, Redis or the chain could not be asked; retry shortly");
const unauthorized = error("Missing or unknown bearer key");
const text = (description: string, mime: string) => ({ description, content: { [mime]: { schema: { type: "string" } } } });
const uuidParam = (name: string) => jsonSchema(z.object({ [name]: z.uuid() }));

const facilitatorBody = jsonSchema(facilitatorBodySchema(PAYLOAD_SCHEMAS));
const x402 = ["x402"];
const operator = ["operator"];
const webhooks = ["webhooks"];
const health = ["health"];
const dashboard = ["dashboard"];
const html = (description: string) => text(description, "text/html");
const session = "Without a valid session cookie every page answers 401 with the login form instead.";
const apiKey = [{ apiKey: [] }];
const admin = [{ adminKey: [] }];

export const ROUTE_DOCS: Record<string, Doc> = {
  "POST /verify": {
    tags: x402,
    summary: "Verify a payment",
    description:
      "Checks a payment against its requirements without touching the chain's state: the official reasons on refusal " +
      "(HTTP 200 with isValid:false). A malformed body is a 400 that names the field.",
    security: apiKey,
    body: facilitatorBody,
    response: {
      200: json("The verdict", R.verifyResponseSchema),
      400: error("The body is not a payment request (the field is named)"),
      401: unauthorized,
      503: unavailable,
    },
  },
  "POST /settle": {
    tags: x402,
    summary: "Settle a payment",
    description:
      "Verifies, claims the authorization in the ledger (once, whoever races) and waits a bounded time for the receipt. " +
      "success:true only with a receipt; settlement_pending (with the hash) when the chain is slow; a replay is refused.",
    security: apiKey,
    body: facilitatorBody,
    response: {
      200: json("The outcome", R.settleResponseSchema),
      400: error("The body is not a payment request (the field is named)"),
      401: unauthorized,
      503: unavailable,
    },
  },
  "GET /supported": {
    tags: x402,
    summary: "What this facilitator takes",
    description: "Kinds (version, scheme, network; upto names its facilitatorAddress), extensions, and the relayer addresses.",
    response: { 200: json("Supported kinds", R.supportedSchema), 503: unavailable },
  },
  "GET /settlements": {
    tags: operator,
    summary: "List settlements",
    description: "Newest first, filtered; `nextCursor` pages on.",
    security: admin,
    querystring: jsonSchema(listQuery),
    response: {
      200: json("A page of settlements", R.settlementPageSchema),
      400: error("A filter is malformed"),
      401: unauthorized,
      503: unavailable,
    },
  },
  "GET /settlements/by-authorization": {
    tags: operator,
    summary: "Settlements of one authorization",
    security: admin,
    querystring: jsonSchema(authQuery),
    response: {
      200: json("Matching settlements with their history", z.object({ items: z.array(R.settlementDetailSchema) })),
      400: error("A parameter is malformed"),
      401: unauthorized,
      503: unavailable,
    },
  },
  "GET /settlements/by-tx/:hash": {
    tags: operator,
    summary: "The settlement a transaction carried",
    security: admin,
    params: jsonSchema(z.object({ hash: z.string().regex(/^0x[0-9a-fA-F]{64}$/) })),
    response: {
      200: json("The settlement with its history", R.settlementDetailSchema),
      400: error("Not a transaction hash"),
      401: unauthorized,
      404: error("No settlement has this transaction"),
      503: unavailable,
    },
  },
  "GET /settlements/:id": {
    tags: operator,
    summary: "One settlement with its history",
    description: "Every state it went through and every transaction signed for it. Signatures are never shown.",
    security: admin,
    params: uuidParam("id"),
    response: {
      200: json("The settlement with its history", R.settlementDetailSchema),
      400: error("Not a settlement id"),
      401: unauthorized,
      404: error("No such settlement"),
      503: unavailable,
    },
  },
  "POST /webhooks": {
    tags: webhooks,
    summary: "Create a webhook endpoint",
    description:
      "Events are signed per Standard Webhooks; the secret is shown only in this answer. Private and loopback targets are " +
      "refused unless WEBHOOK_ALLOW_PRIVATE_URLS=1.",
    security: admin,
    body: jsonSchema(createBody),
    response: {
      201: json("The endpoint, with its secret", R.webhookEndpointWithSecretSchema),
      400: error("The body is malformed or the URL is not allowed"),
      401: unauthorized,
      503: unavailable,
    },
  },
  "GET /webhooks": {
    tags: webhooks,
    summary: "List webhook endpoints",
    security: admin,
    response: {
      200: json("The endpoints (no secrets)", z.object({ items: z.array(R.webhookEndpointSchema) })),
      401: unauthorized,
      503: unavailable,
    },
  },
  "DELETE /webhooks/:id": {
    tags: webhooks,
    summary: "Delete a webhook endpoint",
    security: admin,
    params: uuidParam("id"),
    response: {
      204: { description: "Deleted, with its pending deliveries" },
      400: error("Not an id"),
      401: unauthorized,
      404: error("No such endpoint"),
      503: unavailable,
    },
  },
  "POST /webhooks/:id/rotate": {
    tags: webhooks,
    summary: "Rotate an endpoint's secret",
    description: "The previous secret keeps signing alongside the new one for 24 hours, so receivers can switch without a gap.",
    security: admin,
    params: uuidParam("id"),
    response: {
      200: json("The endpoint, with its new secret", R.webhookEndpointWithSecretSchema),
      400: error("Not an id"),
      401: unauthorized,
      404: error("No such endpoint"),
      503: unavailable,
    },
  },
  "GET /webhooks/:id/deliveries": {
    tags: webhooks,
    summary: "An endpoint's deliveries",
    security: admin,
    params: uuidParam("id"),
    querystring: jsonSchema(deliveriesQuery),
    response: {
      200: json("Newest first", z.object({ items: z.array(R.webhookDeliverySchema) })),
      400: error("A parameter is malformed"),
      401: unauthorized,
      404: error("No such endpoint"),
      503: unavailable,
    },
  },
  "POST /webhooks/:id/deliveries/:deliveryId/replay": {
    tags: webhooks,
    summary: "Send a delivery again",
    description: "From the first attempt, with the same webhook-id.",
    security: admin,
    params: jsonSchema(z.object({ id: z.uuid(), deliveryId: z.string().regex(/^[1-9][0-9]*$/) })),
    response: {
      202: json("Queued", z.object({ id: z.string(), state: z.string(), nextAttemptAt: z.string() })),
      400: error("A parameter is malformed"),
      401: unauthorized,
      404: error("No such delivery of this endpoint"),
      503: unavailable,
    },
  },
  "GET /keys": {
    tags: operator,
    summary: "API keys, their policies and today's gas",
    description: "Each key's restrictions (never the key or its digest) and how much of its daily gas budget is spent.",
    security: admin,
    response: { 200: json("The keys", z.object({ items: z.array(R.apiKeySchema) })), 401: unauthorized, 503: unavailable },
  },
  "GET /relayers": {
    tags: operator,
    summary: "Relayer keys per network",
    description:
      "Balance, gas floor, in-flight transactions, our next nonce against the chain's pending one, and whether a worker holds the key.",
    security: admin,
    querystring: jsonSchema(noQuery),
    response: {
      200: json("One row per key and network", z.object({ items: z.array(R.relayerStatusSchema) })),
      400: error("Unknown parameter"),
      401: unauthorized,
      503: unavailable,
    },
  },
  "GET /stats": {
    tags: operator,
    summary: "Outcomes over the last hour or day, and the backlog",
    description:
      "Settlements claimed in the window by state, failures by state and reason, queue depth and the oldest settlement in progress.",
    security: admin,
    querystring: jsonSchema(statsQuery),
    response: { 200: json("Counts and backlog", R.statsSchema), 400: error("Unknown window"), 401: unauthorized, 503: unavailable },
  },
  "GET /webhooks/failing-deliveries": {
    tags: webhooks,
    summary: "Deliveries going wrong, per endpoint",
    description: "Given up on, or still owed after a failed attempt (the newest 20 of each kind per endpoint).",
    security: admin,
    querystring: jsonSchema(noQuery),
    response: {
      200: json("Endpoints with their failing deliveries", z.object({ items: z.array(R.webhookStatusSchema) })),
      400: error("Unknown parameter"),
      401: unauthorized,
      503: unavailable,
    },
  },
  "GET /dashboard": {
    tags: dashboard,
    summary: "Operator page: overview",
    description: `Recent settlements, outcomes by reason, relayer keys, the backlog and failing webhooks (read-only). ${session}`,
    response: { 200: html("The overview"), 401: html("The login form") },
  },
  "GET /dashboard/search": {
    tags: dashboard,
    summary: "Operator page: find settlements by payer, payTo, transaction or id",
    description: session,
    querystring: jsonSchema(z.object({ q: z.string().max(200) })),
    response: { 200: html("Matching settlements"), 400: html("The query is not an address, hash or id"), 401: html("The login form") },
  },
  "GET /dashboard/settlements/:id": {
    tags: dashboard,
    summary: "Operator page: one settlement and its history",
    description: session,
    params: uuidParam("id"),
    response: { 200: html("The settlement"), 400: html("Not an id"), 401: html("The login form"), 404: html("No such settlement") },
  },
  "GET /dashboard/style.css": {
    tags: dashboard,
    summary: "Operator page stylesheet",
    response: { 200: text("The stylesheet (the page's CSP allows no inline style)", "text/css") },
  },
  "POST /dashboard/login": {
    tags: dashboard,
    summary: "Operator page: log in with the admin key",
    description:
      "Form post (key, next). Sets an HttpOnly, SameSite=Strict session cookie (Secure over TLS) that holds no key. Cross-site posts are refused.",
    body: { type: "object", properties: { key: { type: "string" }, next: { type: "string" } }, required: ["key"] },
    response: {
      303: { description: "Logged in: to the page asked for" },
      401: html("Wrong key: the form again"),
      403: text("Cross-site post", "text/plain"),
    },
  },
  "POST /dashboard/logout": {
    tags: dashboard,
    summary: "Operator page: log out",
    response: { 303: { description: "Session cookie cleared" }, 403: text("Cross-site post", "text/plain") },
  },
  "GET /metrics": {
    tags: operator,
    summary: "Prometheus metrics of the api",
    description: "The worker serves its own on WORKER_METRICS_PORT. Needs METRICS_API_KEY as a bearer token when that is set.",
    security: [{ metricsKey: [] }],
    response: { 200: text("Prometheus text format", "text/plain"), 401: unauthorized },
  },
  "GET /health": { tags: health, summary: "Alive", response: { 200: json("Alive", z.object({ status: z.literal("ok") })) } },
  "GET /healthz": { tags: health, summary: "Alive", response: { 200: json("Alive", z.object({ status: z.literal("ok") })) } },
  "GET /readyz": {
    tags: health,
    summary: "Ready: Postgres, Redis, every RPC and the relayers' gas",
    response: {
      200: json("Every check passed", z.object({ status: z.literal("ready"), checks: z.record(z.string(), z.unknown()) })),
      503: json("A check failed (named)", z.object({ status: z.literal("not_ready"), checks: z.record(z.string(), z.unknown()) })),
    },
  },
  "GET /openapi.json": {
    tags: operator,
    summary: "This document",
    response: { 200: { description: "OpenAPI 3.1", type: "object", additionalProperties: true } },
  },
  ...DISCOVERY_DOCS,
};
