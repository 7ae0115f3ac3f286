-- Gas spent per API key and UTC day, metered from receipts (used × effective price): what a key's
-- dailyGasBudgetWei is checked against. Each mined transaction is charged once, split evenly
-- between the settlements it carried.
CREATE TABLE IF NOT EXISTS gas_charges (
  tx_hash    text          PRIMARY KEY CHECK (tx_hash ~ '^0x[0-9a-f]{64}$'),
  wei        numeric(78,0) NOT NULL CHECK (wei >= 0),
  day        date          NOT NULL,
  created_at timestamptz   NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS api_key_gas (
  key_id text          NOT NULL,
  day    date          NOT NULL,
  wei    numeric(78,0) NOT NULL DEFAULT 0,
  PRIMARY KEY (key_id, day)
);
