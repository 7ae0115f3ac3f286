-- The Bazaar catalog: resources that payments through this facilitator declared with the
-- `bazaar` extension. One row per merchant's resource: entry_key is a digest of type, resource
-- URL (or route template), MCP tool and payTo, so one merchant can never replace another's entry.
-- Every text is sanitized before it is written (src/discovery/sanitize.ts); the checks below are
-- the last line.
CREATE TABLE IF NOT EXISTS discovery_resources (
  id           bigserial    PRIMARY KEY,
  entry_key    text         NOT NULL UNIQUE CHECK (entry_key ~ '^[0-9a-f]{64}$'),
  type         text         NOT NULL CHECK (type IN ('http', 'mcp')),
  resource     text         NOT NULL CHECK (resource ~ '^https?://' AND length(resource) <= 2048),
  tool_name    text         CHECK (length(tool_name) <= 128),
  method       text         CHECK (length(method) <= 16),
  pay_to       text         NOT NULL CHECK (length(pay_to) <= 64),
  x402_version smallint     NOT NULL CHECK (x402_version IN (1, 2)),
  -- the accepted requirements by "<scheme>|<network>|<asset>"
  accepts      jsonb        NOT NULL,
  description  text         CHECK (length(description) <= 1000),
  mime_type    text         CHECK (length(mime_type) <= 100),
  service_name text         CHECK (length(service_name) <= 32),
  tags         text[]       CHECK (cardinality(tags) <= 5),
  icon_url     text         CHECK (icon_url ~ '^https?://' AND length(icon_url) <= 2048),
  -- the extension's info and schema, as validated and sanitized
  bazaar       jsonb        NOT NULL,
  -- description, service name and tags: what /discovery/search looks through
  search_text  text         NOT NULL DEFAULT '',
  first_seen   timestamptz  NOT NULL DEFAULT now(),
  last_seen    timestamptz  NOT NULL DEFAULT now(),
  hidden_at    timestamptz
);

CREATE INDEX IF NOT EXISTS discovery_resources_listed_idx ON discovery_resources (last_seen DESC, id DESC) WHERE hidden_at IS NULL;
CREATE INDEX IF NOT EXISTS discovery_resources_pay_to_idx ON discovery_resources (pay_to, last_seen DESC);
CREATE INDEX IF NOT EXISTS discovery_resources_search_idx ON discovery_resources USING gin (to_tsvector('english', search_text));

-- payment-identifier: the client's own idempotency key for a payment, unique per payer.
ALTER TABLE settlements ADD COLUMN IF NOT EXISTS payment_id text CHECK (length(payment_id) BETWEEN 16 AND 128);
CREATE UNIQUE INDEX IF NOT EXISTS settlements_payment_id_key ON settlements (payer, payment_id) WHERE payment_id IS NOT NULL;
