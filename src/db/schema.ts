// Drizzle view of the tables created by migrations/*.sql (the SQL files are the source of truth).
import {
  bigint,
  bigserial,
  integer,
  jsonb,
  numeric,
  pgTable,
  primaryKey,
  smallint,
  text,
  timestamp,
  unique,
  uuid,
} from "drizzle-orm/pg-core";

export const SETTLEMENT_STATES = [
  "received",
  "queued",
  "signed",
  "submitted",
  "mined",
  "confirmed",
  "failed",
  "rejected",
  "expired",
  "canceled",
  "needs_review",
] as const;
export type SettlementState = (typeof SETTLEMENT_STATES)[number];
export const TERMINAL_STATES: ReadonlySet<SettlementState> = new Set(["confirmed", "failed", "rejected", "expired", "canceled"]);

/** What makes a payment unique on its chain: a key its payment method derives (migrations/0002). */
export interface PaymentKey {
  chainId: number;
  key: string;
}

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });

export const settlements = pgTable(
  "settlements",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    chainId: integer("chain_id").notNull(),
    asset: text("asset").notNull(),
    payer: text("payer").notNull(),
    nonce: text("nonce").notNull(),
    payTo: text("pay_to").notNull(),
    value: numeric("value", { precision: 78, scale: 0 }).notNull(),
    validAfter: numeric("valid_after", { precision: 78, scale: 0 }).notNull(),
    validBefore: numeric("valid_before", { precision: 78, scale: 0 }).notNull(),
    signature: text("signature").notNull(),
    payloadSha256: text("payload_sha256").notNull(),
    x402Version: smallint("x402_version").notNull(),
    requestNetwork: text("request_network").notNull(),
    apiKeyId: text("api_key_id"),
    /** The x402 scheme ("exact") and the method that carries it ("eip3009"). */
    scheme: text("scheme").notNull(),
    method: text("method").notNull(),
    /** Unique per chain: the method's own key for "this payment" (migrations/0002). */
    paymentKey: text("payment_key").notNull(),
    /** Null: the authorized `value` is what is charged. */
    chargedAmount: numeric("charged_amount", { precision: 78, scale: 0 }),
    /** The client's idempotency key (payment-identifier extension), unique per payer (migrations/0007). */
    paymentId: text("payment_id"),
    /** The method's own fields beyond the common columns. */
    payload: jsonb("payload").$type<Record<string, unknown>>(),
    state: text("state").$type<SettlementState>().notNull().default("received"),
    version: integer("version").notNull().default(0),
    relayerAddress: text("relayer_address"),
    relayerNonce: bigint("relayer_nonce", { mode: "bigint" }),
    latestTx: text("latest_tx"),
    settledTx: text("settled_tx"),
    blockNumber: bigint("block_number", { mode: "bigint" }),
    blockHash: text("block_hash"),
    settledBy: text("settled_by").$type<"self" | "external">(),
    searchFromBlock: bigint("search_from_block", { mode: "bigint" }),
    successAnsweredAt: ts("success_answered_at"),
    errorReason: text("error_reason"),
    errorMessage: text("error_message"),
    createdAt: ts("created_at").notNull().defaultNow(),
    updatedAt: ts("updated_at").notNull().defaultNow(),
  },
  (t) => [unique("settlements_payment_key").on(t.chainId, t.paymentKey)],
);

export const settlementTxs = pgTable("settlement_txs", {
  id: bigserial("id", { mode: "bigint" }).primaryKey(),
  hash: text("hash").notNull(),
  settlementId: uuid("settlement_id"),
  kind: text("kind").$type<"transfer" | "filler">().notNull().default("transfer"),
  chainId: integer("chain_id").notNull(),
  relayerAddress: text("relayer_address").notNull(),
  relayerNonce: bigint("relayer_nonce", { mode: "bigint" }).notNull(),
  rawTx: text("raw_tx").notNull(),
  maxFeePerGas: numeric("max_fee_per_gas", { precision: 78, scale: 0 }).notNull(),
  maxPriorityFeePerGas: numeric("max_priority_fee_per_gas", { precision: 78, scale: 0 }).notNull(),
  gasLimit: numeric("gas_limit", { precision: 78, scale: 0 }).notNull(),
  createdAt: ts("created_at").notNull().defaultNow(),
});

export const settlementEvents = pgTable("settlement_events", {
  id: bigserial("id", { mode: "bigint" }).primaryKey(),
  settlementId: uuid("settlement_id").notNull(),
  fromState: text("from_state"),
  toState: text("to_state").notNull(),
  version: integer("version").notNull(),
  txHash: text("tx_hash"),
  detail: jsonb("detail"),
  createdAt: ts("created_at").notNull().defaultNow(),
});

export const relayerNonces = pgTable(
  "relayer_nonces",
  {
    chainId: integer("chain_id").notNull(),
    address: text("address").notNull(),
    nextNonce: bigint("next_nonce", { mode: "bigint" }).notNull(),
    leaseOwner: text("lease_owner"),
    leaseExpiresAt: ts("lease_expires_at"),
    updatedAt: ts("updated_at").notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.chainId, t.address] })],
);

export const workers = pgTable("workers", {
  id: text("id").primaryKey(),
  startedAt: ts("started_at").notNull().defaultNow(),
  seenAt: ts("seen_at").notNull().defaultNow(),
});

/** The events a webhook endpoint may ask for (src/webhooks/outbox.ts writes them). */
export const WEBHOOK_EVENTS = [
  "settlement.submitted",
  "settlement.confirmed",
  "settlement.failed",
  "settlement.canceled",
  "settlement.expired",
  "settlement.needs_review",
] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

export const webhookEndpoints = pgTable("webhook_endpoints", {
  id: uuid("id").primaryKey().defaultRandom(),
  url: text("url").notNull(),
  secret: text("secret").notNull(),
  previousSecret: text("previous_secret"),
  previousSecretUntil: ts("previous_secret_until"),
  events: text("events").array().$type<WebhookEvent[]>(),
  payTo: text("pay_to").array(),
  source: text("source").$type<"env" | "api">().notNull().default("api"),
  disabledAt: ts("disabled_at"),
  disabledReason: text("disabled_reason"),
  createdAt: ts("created_at").notNull().defaultNow(),
});

export const webhookEvents = pgTable("webhook_events", {
  id: uuid("id").primaryKey().defaultRandom(),
  type: text("type").$type<WebhookEvent>().notNull(),
  settlementId: uuid("settlement_id").notNull(),
  body: text("body").notNull(),
  createdAt: ts("created_at").notNull().defaultNow(),
});

export const WEBHOOK_DELIVERY_STATES = ["pending", "delivered", "failed", "disabled"] as const;

export const webhookDeliveries = pgTable("webhook_deliveries", {
  id: bigserial("id", { mode: "bigint" }).primaryKey(),
  eventId: uuid("event_id").notNull(),
  endpointId: uuid("endpoint_id").notNull(),
  state: text("state").$type<(typeof WEBHOOK_DELIVERY_STATES)[number]>().notNull().default("pending"),
  attempts: integer("attempts").notNull().default(0),
  nextAttemptAt: ts("next_attempt_at").notNull().defaultNow(),
  lockedUntil: ts("locked_until"),
  lastStatus: integer("last_status"),
  lastError: text("last_error"),
  deliveredAt: ts("delivered_at"),
  createdAt: ts("created_at").notNull().defaultNow(),
});

/** Solana fee payers the workers hold, per cluster (migrations/0006). */
export const svmFeePayers = pgTable(
  "svm_fee_payers",
  {
    network: text("network").notNull(),
    address: text("address").notNull(),
    seenAt: ts("seen_at").notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.network, t.address] })],
);
