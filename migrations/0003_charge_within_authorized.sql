-- A settlement never charges more than the payer authorized: the last guard behind the upto
-- checks in code, kept by the database itself.
ALTER TABLE settlements DROP CONSTRAINT IF EXISTS settlements_charge_within_authorized;
ALTER TABLE settlements ADD CONSTRAINT settlements_charge_within_authorized CHECK (charged_amount IS NULL OR charged_amount <= value);
