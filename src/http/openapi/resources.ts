// The shapes the API answers with, as zod: the OpenAPI document is generated from these, and the
// code that builds each answer is type-checked against the same definition (present.ts,
// routes/webhooks.ts), so the document cannot drift from what is sent.
import { z } from "zod";
import { SETTLEMENT_STATES, WEBHOOK_DELIVERY_STATES } from "../../db/schema.js";
import { WEBHOOK_EVENTS } from "../../webhooks/outbox.js";

const hex = (bytes: number) => z.string().regex(new RegExp(`^0x[0-9a-f]{${bytes * 2}}$`));
const address = hex(20);
const decimal = z.string().regex(/^[0-9]+$/);
const iso = z.string().meta({ format: "date-time" });

export const errorSchema = z
  .object({
    error: z.string().meta({ description: "invalid_request, unauthorized, not_found, database_unavailable, …" }),
    field: z.string().optional().meta({ description: "The input that was refused (400 only)" }),
    message: z.string(),
  })
  .meta({
    id: "Error",
    examples: [{ error: "invalid_request", field: "payer", message: "payer: must be a 0x-prefixed 20-byte hex address" }],
  });

export const verifyResponseSchema = z
  .object({ isValid: z.boolean(), invalidReason: z.string().optional(), invalidMessage: z.string().optional(), payer: z.string() })
  .meta({
    id: "VerifyResponse",
    examples: [
      { isValid: false, invalidReason: "invalid_exact_evm_insufficient_balance", payer: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC" },
    ],
  });

export const settleResponseSchema = z
  .object({
    success: z.boolean(),
    errorReason: z.string().optional(),
    errorMessage: z.string().optional(),
    payer: z.string(),
    transaction: z.string().meta({ description: "The transaction hash; empty when none was sent" }),
    network: z.string(),
    amount: z.string().optional().meta({ description: "What was charged (upto)" }),
  })
  .meta({
    id: "SettleResponse",
    examples: [
      {
        success: true,
        payer: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
        transaction: "0x80ed5ab8c2bd1b1f7c9f2d1a4c1bd2f3a1e0d6e5c4b3a29180706f5e4d3c2b1a",
        network: "eip155:84532",
      },
    ],
  });

export const supportedSchema = z
  .object({
    kinds: z.array(
      z.object({
        x402Version: z.union([z.literal(1), z.literal(2)]),
        scheme: z.string(),
        network: z.string(),
        extra: z.record(z.string(), z.unknown()).optional(),
      }),
    ),
    extensions: z.array(z.string()),
    signers: z.record(z.string(), z.array(z.string())),
  })
  .meta({ id: "Supported" });

export const settlementSchema = z
  .object({
    id: z.uuid(),
    network: z.string().meta({ description: "CAIP-2 id of the chain" }),
    requestNetwork: z.string().meta({ description: "The network as the request named it" }),
    x402Version: z.number().int(),
    scheme: z.string(),
    method: z.string(),
    asset: address,
    payer: address,
    payTo: address,
    apiKeyId: z.string().nullable().meta({ description: "The id of the API key that claimed it (never the key)" }),
    value: decimal.meta({ description: "The authorized amount" }),
    chargedAmount: decimal.meta({ description: "What the payment moves (less than value for upto)" }),
    nonce: hex(32),
    validAfter: decimal,
    validBefore: decimal,
    state: z.enum(SETTLEMENT_STATES),
    version: z.number().int(),
    transaction: hex(32).nullable(),
    latestTransaction: hex(32).nullable(),
    settledBy: z.enum(["self", "external"]).nullable(),
    blockNumber: decimal.nullable(),
    blockHash: hex(32).nullable(),
    relayer: address.nullable(),
    relayerNonce: decimal.nullable(),
    successAnsweredAt: iso.nullable(),
    errorReason: z.string().nullable(),
    errorMessage: z.string().nullable(),
    createdAt: iso,
    updatedAt: iso,
  })
  .meta({ id: "Settlement" });

export const settlementDetailSchema = settlementSchema
  .extend({
    events: z.array(
      z.object({
        from: z.enum(SETTLEMENT_STATES).nullable(),
        to: z.enum(SETTLEMENT_STATES),
        version: z.number().int(),
        transaction: z.string().nullable(),
        detail: z.unknown(),
        at: iso,
      }),
    ),
    transactions: z.array(
      z.object({
        hash: hex(32),
        relayer: address,
        relayerNonce: decimal,
        maxFeePerGas: decimal,
        maxPriorityFeePerGas: decimal,
        gasLimit: decimal,
        at: iso,
      }),
    ),
  })
  .meta({ id: "SettlementDetail" });

export const settlementPageSchema = z
  .object({ items: z.array(settlementSchema), nextCursor: z.string().nullable() })
  .meta({ id: "SettlementPage" });

export const webhookEndpointSchema = z
  .object({
    id: z.uuid(),
    url: z.string(),
    events: z.array(z.enum(WEBHOOK_EVENTS)).nullable(),
    payTo: z.array(address).nullable(),
    source: z.enum(["env", "api"]),
    disabledAt: iso.nullable(),
    disabledReason: z.string().nullable(),
    previousSecretValidUntil: iso.nullable(),
    createdAt: iso,
  })
  .meta({ id: "WebhookEndpoint" });

export const webhookEndpointWithSecretSchema = webhookEndpointSchema
  .extend({ secret: z.string().meta({ description: "whsec_…: shown only in this answer; receivers verify signatures with it" }) })
  .meta({ id: "WebhookEndpointWithSecret" });

export const webhookDeliverySchema = z
  .object({
    id: decimal,
    eventId: z.uuid().meta({ description: "Also the webhook-id header" }),
    type: z.enum(WEBHOOK_EVENTS),
    settlementId: z.uuid(),
    state: z.enum(WEBHOOK_DELIVERY_STATES),
    attempts: z.number().int(),
    nextAttemptAt: iso,
    lastStatus: z.number().int().nullable(),
    lastError: z.string().nullable(),
    deliveredAt: iso.nullable(),
    createdAt: iso,
  })
  .meta({ id: "WebhookDelivery" });

export const relayerStatusSchema = z
  .object({
    network: z.string(),
    networkName: z.string(),
    address,
    leased: z.boolean().meta({ description: "A worker holds the lane's lease now (it is the one signing with this key)" }),
    inFlight: z.number().int(),
    nextNonce: decimal,
    chainPendingNonce: decimal.nullable(),
    nonceLag: z.string().nullable().meta({ description: "Our next nonce minus the chain's pending one" }),
    balanceWei: decimal.nullable(),
    balanceEth: z.string().nullable(),
    belowGasFloor: z.boolean().nullable(),
    error: z.string().nullable().meta({ description: "Why the chain figures are missing (the RPC did not answer)" }),
  })
  .meta({ id: "RelayerStatus" });

export const STATS_WINDOWS = ["1h", "24h"] as const;

export const statsSchema = z
  .object({
    window: z.enum(STATS_WINDOWS),
    since: iso,
    total: z.number().int(),
    succeeded: z.number().int(),
    failed: z.number().int(),
    byState: z.record(z.enum(SETTLEMENT_STATES), z.number().int()),
    failures: z.array(z.object({ state: z.enum(SETTLEMENT_STATES), reason: z.string().nullable(), count: z.number().int() })),
    queue: z.object({ jobs: z.record(z.string(), z.number()).nullable(), error: z.string().nullable() }),
    oldestOpen: z.object({ id: z.uuid(), state: z.enum(SETTLEMENT_STATES), since: iso, ageSeconds: z.number() }).nullable(),
  })
  .meta({ id: "Stats" });

export const webhookStatusSchema = webhookEndpointSchema
  .extend({ failingDeliveries: z.array(webhookDeliverySchema) })
  .meta({ id: "WebhookStatus" });

export const apiKeySchema = z
  .object({
    id: z.string(),
    payTo: z.array(address).optional(),
    networks: z.array(z.string()).optional(),
    assets: z.array(address).optional(),
    maxAmount: decimal.optional(),
    rateLimit: z.object({ perSecond: z.number(), burst: z.number().int().optional() }).optional(),
    dailyGasBudgetWei: decimal.optional(),
    gasSpentTodayWei: decimal.meta({ description: "Metered from receipts since 00:00 UTC" }),
    gasBudgetSpent: z.boolean().meta({ description: "True once today's budget is used up: new settlements are refused" }),
  })
  .meta({ id: "ApiKey" });
