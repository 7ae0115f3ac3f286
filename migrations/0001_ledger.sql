-- The settlement ledger: one row per EIP-3009 authorization, driven through the exactly-once
-- state machine by compare-and-set on (state, version). Postgres is the source of truth;
-- Redis only wakes the worker.

CREATE TABLE IF NOT EXISTS settlements (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  chain_id        integer      NOT NULL,
  asset           text         NOT NULL CHECK (asset ~ '^0x[0-9a-f]{40}$'),
  payer           text         NOT NULL CHECK (payer ~ '^0x[0-9a-f]{40}$'),
  nonce           text         NOT NULL CHECK (nonce ~ '^0x[0-9a-f]{64}$'),
  pay_to          text         NOT NULL CHECK (pay_to ~ '^0x[0-9a-f]{40}$'),
  value           numeric(78,0) NOT NULL CHECK (value >= 0),
  valid_after     numeric(78,0) NOT NULL,
  valid_before    numeric(78,0) NOT NULL,
  signature       text         NOT NULL,
  -- sha256 of the canonical request (payload + requirements): identical retries match it.
  payload_sha256  text         NOT NULL,
  x402_version    smallint     NOT NULL CHECK (x402_version IN (1, 2)),
  -- the network as the caller wrote it (v1 name or CAIP-2), echoed in answers
  request_network text         NOT NULL,
  api_key_id      text,
  state           text         NOT NULL DEFAULT 'received' CHECK (state IN (
                    'received', 'queued', 'signed', 'submitted', 'mined', 'confirmed',
                    'failed', 'rejected', 'expired', 'canceled', 'needs_review')),
  version         integer      NOT NULL DEFAULT 0,
  relayer_address text,
  relayer_nonce   bigint,
  -- the newest transaction signed for this row, and the one whose receipt proved it (ours or not)
  latest_tx       text,
  settled_tx      text,
  block_number    bigint,
  block_hash      text,
  settled_by      text CHECK (settled_by IN ('self', 'external')),
  -- where log searches for this authorization start (set when the worker first looks at it)
  search_from_block bigint,
  -- when /settle first answered success for this row: later requests get nonce_already_used,
  -- so one payment is delivered once (a retry after settlement_pending is that first answer)
  success_answered_at timestamptz,
  error_reason    text,
  error_message   text,
  created_at      timestamptz  NOT NULL DEFAULT now(),
  updated_at      timestamptz  NOT NULL DEFAULT now(),
  CONSTRAINT settlements_authorization_key UNIQUE (chain_id, asset, payer, nonce)
);

CREATE INDEX IF NOT EXISTS settlements_payer_idx   ON settlements (payer, created_at DESC);
CREATE INDEX IF NOT EXISTS settlements_pay_to_idx  ON settlements (pay_to, created_at DESC);
CREATE INDEX IF NOT EXISTS settlements_created_idx ON settlements (created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS settlements_open_idx    ON settlements (state, updated_at)
  WHERE state NOT IN ('confirmed', 'failed', 'rejected', 'expired', 'canceled');

-- Every transaction the relayer signed for a settlement, stored before it is broadcast: any
-- of them (original or fee replacement) may be the one that gets mined. A batched transaction
-- (several authorizations through Multicall3) has one row per settlement it carries.
CREATE TABLE IF NOT EXISTS settlement_txs (
  id              bigserial    PRIMARY KEY,
  hash            text         NOT NULL CHECK (hash ~ '^0x[0-9a-f]{64}$'),
  -- null for a filler: a 0-value self-transfer that keeps a relayer's nonces contiguous
  settlement_id   uuid         REFERENCES settlements (id),
  kind            text         NOT NULL DEFAULT 'transfer' CHECK (kind IN ('transfer', 'filler')),
  chain_id        integer      NOT NULL,
  relayer_address text         NOT NULL,
  relayer_nonce   bigint       NOT NULL,
  raw_tx          text         NOT NULL,
  max_fee_per_gas          numeric(78,0) NOT NULL,
  max_priority_fee_per_gas numeric(78,0) NOT NULL,
  gas_limit       numeric(78,0) NOT NULL,
  created_at      timestamptz  NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS settlement_txs_hash_settlement_key ON settlement_txs (hash, settlement_id);
CREATE INDEX IF NOT EXISTS settlement_txs_settlement_idx ON settlement_txs (settlement_id);
CREATE INDEX IF NOT EXISTS settlement_txs_nonce_idx ON settlement_txs (chain_id, relayer_address, relayer_nonce);

-- Wakes /settle requests waiting on a row (payload: the settlement id); sent by every
-- state change, delivered at commit.
-- (channel name: settlement_changed)

-- Append-only history of state changes, for operators and audits.
CREATE TABLE IF NOT EXISTS settlement_events (
  id            bigserial PRIMARY KEY,
  settlement_id uuid        NOT NULL REFERENCES settlements (id),
  from_state    text,
  to_state      text        NOT NULL,
  version       integer     NOT NULL,
  tx_hash       text,
  detail        jsonb,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS settlement_events_settlement_idx ON settlement_events (settlement_id, id);

-- The next nonce of each relayer key on each chain, allocated FOR UPDATE in the same
-- transaction that stores the signed raw tx. The lease keeps a second worker off a key.
CREATE TABLE IF NOT EXISTS relayer_nonces (
  chain_id         integer     NOT NULL,
  address          text        NOT NULL CHECK (address ~ '^0x[0-9a-f]{40}$'),
  next_nonce       bigint      NOT NULL,
  lease_owner      text,
  lease_expires_at timestamptz,
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (chain_id, address)
);

-- Live worker processes (heartbeats), so relayer leases can be shared out fairly.
CREATE TABLE IF NOT EXISTS workers (
  id         text PRIMARY KEY,
  started_at timestamptz NOT NULL DEFAULT now(),
  seen_at    timestamptz NOT NULL DEFAULT now()
);
