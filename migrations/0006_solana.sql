-- Solana payments share the ledger. Their rows carry a negative chain_id (one per cluster, see
-- src/config/solana-networks.ts) and base58 addresses, which keep their case; EVM rows keep the
-- lowercase-hex rules they always had. The nonce of a Solana row is its recent blockhash.
ALTER TABLE settlements DROP CONSTRAINT IF EXISTS settlements_asset_check;
ALTER TABLE settlements DROP CONSTRAINT IF EXISTS settlements_payer_check;
ALTER TABLE settlements DROP CONSTRAINT IF EXISTS settlements_nonce_check;
ALTER TABLE settlements DROP CONSTRAINT IF EXISTS settlements_pay_to_check;
ALTER TABLE settlements ADD CONSTRAINT settlements_asset_check CHECK (
  CASE WHEN chain_id >= 0 THEN asset ~ '^0x[0-9a-f]{40}$' ELSE asset ~ '^[1-9A-HJ-NP-Za-km-z]{32,44}$' END);
ALTER TABLE settlements ADD CONSTRAINT settlements_payer_check CHECK (
  CASE WHEN chain_id >= 0 THEN payer ~ '^0x[0-9a-f]{40}$' ELSE payer ~ '^[1-9A-HJ-NP-Za-km-z]{32,44}$' END);
ALTER TABLE settlements ADD CONSTRAINT settlements_nonce_check CHECK (
  CASE WHEN chain_id >= 0 THEN nonce ~ '^0x[0-9a-f]{64}$' ELSE nonce ~ '^[1-9A-HJ-NP-Za-km-z]{32,44}$' END);
ALTER TABLE settlements ADD CONSTRAINT settlements_pay_to_check CHECK (
  CASE WHEN chain_id >= 0 THEN pay_to ~ '^0x[0-9a-f]{40}$' ELSE pay_to ~ '^[1-9A-HJ-NP-Za-km-z]{32,44}$' END);

-- The fee payer keys each worker holds, per cluster: the api never holds a key, so this is how
-- it learns what to advertise in /supported and which fee payers a payment may name.
CREATE TABLE IF NOT EXISTS svm_fee_payers (
  network  text        NOT NULL,
  address  text        NOT NULL CHECK (address ~ '^[1-9A-HJ-NP-Za-km-z]{32,44}$'),
  seen_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (network, address)
);

-- The operator API finds a Solana settlement by its signature, which is its latest_tx from the
-- moment it is signed.
CREATE INDEX IF NOT EXISTS settlements_latest_tx_idx ON settlements (latest_tx) WHERE latest_tx IS NOT NULL;
