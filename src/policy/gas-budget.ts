// Gas per API key and day. The worker charges each mined transaction once (its receipt's gas
// used × effective price, split between the settlements it carried, by their keys); the api
// refuses new settlements of a key whose day is spent. Settlements already claimed go on.
import { sql } from "drizzle-orm";
import type { Db } from "../db/client.js";
import { guardDb } from "../db/ledger.js";

export function createGasMeter(db: Db) {
  const meter = {
    /** Charges a mined transaction to the keys of the settlements it carried (once per hash). */
    async charge(txHash: string, wei: bigint): Promise<void> {
      await meter.chargeMany([{ txHash, wei }]);
    },

    /**
     * charge for many transactions in one statement: the worker charges the receipts of a block
     * together (one commit instead of one per transaction). A hash given twice is charged once.
     */
    async chargeMany(items: readonly { txHash: string; wei: bigint }[]): Promise<void[]> {
      const hashes = `{${items.map((i) => i.txHash.toLowerCase()).join(",")}}`;
      const weis = `{${items.map((i) => i.wei.toString()).join(",")}}`;
      await guardDb("gas charge", () =>
        db.execute(sql`
          WITH item AS (
            SELECT DISTINCT ON (tx_hash) tx_hash, wei FROM unnest(${hashes}::text[], ${weis}::numeric[]) AS x(tx_hash, wei)
          ), fresh AS (
            INSERT INTO gas_charges (tx_hash, wei, day) SELECT tx_hash, wei, (now() AT TIME ZONE 'utc')::date FROM item
            ON CONFLICT DO NOTHING RETURNING tx_hash, wei, day
          ), carried AS (
            SELECT t.hash, s.api_key_id, count(*) OVER (PARTITION BY t.hash) AS n
            FROM settlement_txs t JOIN settlements s ON s.id = t.settlement_id
            WHERE t.hash IN (SELECT tx_hash FROM item)
          )
          INSERT INTO api_key_gas (key_id, day, wei)
          SELECT c.api_key_id, f.day, sum(f.wei / c.n) FROM fresh f JOIN carried c ON c.hash = f.tx_hash
          WHERE c.api_key_id IS NOT NULL
          GROUP BY c.api_key_id, f.day
          ON CONFLICT (key_id, day) DO UPDATE SET wei = api_key_gas.wei + EXCLUDED.wei`),
      );
      return items.map(() => undefined);
    },

    /** Wei one key has spent today (UTC): read fresh, since a budget is checked against it. */
    async spentToday(keyId: string): Promise<bigint> {
      const rows = await guardDb("gas spent", () =>
        db.execute<{ wei: string }>(
          sql`SELECT wei::text AS wei FROM api_key_gas WHERE key_id = ${keyId} AND day = (now() AT TIME ZONE 'utc')::date`,
        ),
      );
      return BigInt([...rows][0]?.wei ?? 0);
    },

    /** Wei spent today (UTC) per key. */
    async today(): Promise<Map<string, bigint>> {
      const rows = await guardDb("gas spent", () =>
        db.execute<{ key_id: string; wei: string }>(
          sql`SELECT key_id, wei::text AS wei FROM api_key_gas WHERE day = (now() AT TIME ZONE 'utc')::date`,
        ),
      );
      return new Map([...rows].map((r) => [r.key_id, BigInt(r.wei)]));
    },
  };
  return meter;
}

export type GasMeter = ReturnType<typeof createGasMeter>;
