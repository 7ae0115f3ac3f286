-- Webhooks through an outbox: an event row is written in the same transaction as the ledger
-- change it reports, with one delivery row per endpoint that wants it, so a crash or a lost
-- queue can delay a delivery but never lose it. The worker delivers from these rows.

CREATE TABLE IF NOT EXISTS webhook_endpoints (
  id                    uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  url                   text        NOT NULL CHECK (url ~ '^https?://' AND length(url) <= 2048),
  -- whsec_ + base64; the previous one still signs until previous_secret_until (rotation overlap)
  secret                text        NOT NULL CHECK (secret ~ '^whsec_[A-Za-z0-9+/=]+$'),
  previous_secret       text,
  previous_secret_until timestamptz,
  -- null: every event / every payTo
  events                text[],
  pay_to                text[],
  -- 'env': the WEBHOOK_URL endpoint, kept in step with the environment; 'api': made by an operator
  source                text        NOT NULL DEFAULT 'api' CHECK (source IN ('env', 'api')),
  disabled_at           timestamptz,
  disabled_reason       text,
  created_at            timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS webhook_endpoints_one_env ON webhook_endpoints (source) WHERE source = 'env';

CREATE TABLE IF NOT EXISTS webhook_events (
  -- also the webhook-id header: the same on every attempt, so receivers can deduplicate
  id            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  type          text        NOT NULL,
  settlement_id uuid        NOT NULL,
  -- the exact bytes sent: {"type", "timestamp", "data": the settlement as the operator API shows it}
  body          text        NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS webhook_events_settlement ON webhook_events (settlement_id);

CREATE TABLE IF NOT EXISTS webhook_deliveries (
  id              bigserial   PRIMARY KEY,
  event_id        uuid        NOT NULL REFERENCES webhook_events (id),
  endpoint_id     uuid        NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
  state           text        NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed', 'disabled')),
  attempts        integer     NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  -- held by the worker sending it right now, so two workers never send one delivery at once
  locked_until    timestamptz,
  last_status     integer,
  last_error      text,
  delivered_at    timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (event_id, endpoint_id)
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id DESC);
