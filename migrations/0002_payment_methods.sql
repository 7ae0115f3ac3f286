-- Payment methods as modules: each row names its x402 scheme and the method that carries it,
-- and is unique on a key the method derives (EIP-3009: token, payer and nonce; Permit2: payer
-- and Permit2 nonce, whatever the token), instead of on EIP-3009's own columns. The method's
-- extra data rides along as JSON; the charged amount is kept apart from the authorized one
-- (`value`) for methods that charge less than they were allowed.

ALTER TABLE settlements ADD COLUMN IF NOT EXISTS scheme text NOT NULL DEFAULT 'exact';
ALTER TABLE settlements ADD COLUMN IF NOT EXISTS method text NOT NULL DEFAULT 'eip3009';
ALTER TABLE settlements ADD COLUMN IF NOT EXISTS payment_key text;
ALTER TABLE settlements ADD COLUMN IF NOT EXISTS charged_amount numeric(78,0) CHECK (charged_amount >= 0);
ALTER TABLE settlements ADD COLUMN IF NOT EXISTS payload jsonb;

UPDATE settlements SET payment_key = 'eip3009:' || asset || ':' || payer || ':' || nonce WHERE payment_key IS NULL;

-- A process from before this migration (a rolling upgrade) claims without a key: derive it the
-- way it always was, so its claims still meet the new key.
CREATE OR REPLACE FUNCTION settlements_legacy_payment_key() RETURNS trigger AS $$
BEGIN
  IF NEW.payment_key IS NULL AND NEW.method = 'eip3009' THEN
    NEW.payment_key := 'eip3009:' || NEW.asset || ':' || NEW.payer || ':' || NEW.nonce;
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS settlements_legacy_payment_key ON settlements;
CREATE TRIGGER settlements_legacy_payment_key BEFORE INSERT ON settlements
  FOR EACH ROW EXECUTE FUNCTION settlements_legacy_payment_key();

ALTER TABLE settlements ALTER COLUMN payment_key SET NOT NULL;
ALTER TABLE settlements DROP CONSTRAINT IF EXISTS settlements_payment_key;
ALTER TABLE settlements ADD CONSTRAINT settlements_payment_key UNIQUE (chain_id, payment_key);
ALTER TABLE settlements DROP CONSTRAINT IF EXISTS settlements_authorization_key;
-- The operator API still looks authorizations up by payer and nonce.
CREATE INDEX IF NOT EXISTS settlements_payer_nonce_idx ON settlements (chain_id, payer, nonce);
