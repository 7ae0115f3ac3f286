// Migration 0002 carries a ledger written before payment methods over in place: existing rows get
// their method and key, stay unique on it, and a process still running the old code (a rolling
// upgrade) claims rows that meet the new key.
import { copyFileSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import { migrate } from "../src/db/migrate.js";

const MIGRATIONS = fileURLToPath(new URL("../migrations/", import.meta.url));
const payer = `0x${"ab".repeat(20)}`;
const asset = `0x${"cd".repeat(20)}`;
const nonce = `0x${"01".repeat(32)}`;

let admin: postgres.Sql;
let sql: postgres.Sql;
const name = `${inject("databaseTemplate")}_mig${Date.now().toString(36)}`;

beforeAll(async () => {
  admin = postgres(inject("databaseServerUrl"), { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  const url = new URL(inject("databaseServerUrl"));
  url.pathname = `/${name}`;
  sql = postgres(url.toString(), { max: 1, onnotice: () => {} });
});

afterAll(async () => {
  await sql?.end();
  await admin?.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin?.end();
});

/** The insert the code before payment methods made: no scheme, method or key. */
const legacyClaim = (n: string) => sql`
  INSERT INTO settlements (chain_id, asset, payer, nonce, pay_to, value, valid_after, valid_before, signature, payload_sha256, x402_version, request_network)
  VALUES (84532, ${asset}, ${payer}, ${n}, ${payer}, 1000, 0, 9999999999, '0x00', 'h', 2, 'eip155:84532')
  ON CONFLICT DO NOTHING RETURNING id`;

it("rows from before 0002 get their method and key; old-style claims still meet the key", async () => {
  // The ledger as 0001 left it, with a settlement in it.
  const first = mkdtempSync(join(tmpdir(), "x402-mig-"));
  copyFileSync(join(MIGRATIONS, "0001_ledger.sql"), join(first, "0001_ledger.sql"));
  expect(await migrate(sql, `${first}/`)).toEqual(["0001_ledger.sql"]);
  expect(await legacyClaim(nonce)).toHaveLength(1);

  // Every later migration applies on top, in order.
  const later = readdirSync(MIGRATIONS)
    .filter((f) => f.endsWith(".sql") && f !== "0001_ledger.sql")
    .sort();
  expect(later.slice(0, 2)).toEqual(["0002_payment_methods.sql", "0003_charge_within_authorized.sql"]);
  expect(await migrate(sql)).toEqual(later);
  const [row] = await sql<{ scheme: string; method: string; payment_key: string; charged_amount: string | null }[]>`
    SELECT scheme, method, payment_key, charged_amount FROM settlements`;
  expect(row).toEqual({ scheme: "exact", method: "eip3009", payment_key: `eip3009:${asset}:${payer}:${nonce}`, charged_amount: null });

  // The same authorization claimed again by old code is the same payment: refused.
  expect(await legacyClaim(nonce)).toHaveLength(0);
  // And by new code, which names the key itself.
  const again = await sql`
    INSERT INTO settlements (chain_id, asset, payer, nonce, pay_to, value, valid_after, valid_before, signature, payload_sha256, x402_version, request_network, scheme, method, payment_key)
    VALUES (84532, ${asset}, ${payer}, ${nonce}, ${payer}, 1000, 0, 9999999999, '0x00', 'h', 2, 'eip155:84532', 'exact', 'eip3009', ${`eip3009:${asset}:${payer}:${nonce}`})
    ON CONFLICT DO NOTHING RETURNING id`;
  expect(again).toHaveLength(0);

  // A charge above the authorized value is refused by the database itself (0003).
  await expect(sql`UPDATE settlements SET charged_amount = value + 1`).rejects.toThrow(/settlements_charge_within_authorized/);
  expect(await sql`UPDATE settlements SET charged_amount = value RETURNING id`).toHaveLength(1);
  // Another nonce is another payment.
  expect(await legacyClaim(`0x${"02".repeat(32)}`)).toHaveLength(1);
  // Applying again changes nothing.
  expect(await migrate(sql)).toEqual([]);
});
