// Claims insert their rows from one JSON parameter (src/db/insert-settlements.ts). Held against
// the query builder's own insert: the same values give the same stored rows, column by column
// (defaults, numerics, bigints, jsonb, an explicit null), and a payment key already held inserts
// nothing.
import { randomBytes } from "node:crypto";
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, expect, it } from "vitest";
import { connectDatabase, type Database } from "../src/db/client.js";
import { insertSettlements } from "../src/db/insert-settlements.js";
import { settlements } from "../src/db/schema.js";
import { createTestDatabase } from "./support/database.js";

let database: Database;
beforeAll(async () => {
  database = connectDatabase(await createTestDatabase());
});
afterAll(async () => database?.close());

const hex = (n: number) => `0x${randomBytes(n).toString("hex")}`;

function values(o: Partial<typeof settlements.$inferInsert> = {}): typeof settlements.$inferInsert {
  const nonce = hex(32);
  return {
    chainId: 84532,
    asset: hex(20),
    payer: hex(20),
    nonce,
    payTo: hex(20),
    value: "1000000000000000000000000000001",
    validAfter: "0",
    validBefore: "1900000000",
    signature: hex(65),
    payloadSha256: hex(32),
    x402Version: 2,
    requestNetwork: "eip155:84532",
    scheme: "exact",
    method: "eip3009",
    paymentKey: nonce,
    payload: { nested: { list: [1, "two", null] }, flag: true },
    ...o,
  };
}

/** A stored row without what differs by nature between two inserts. */
const comparable = (row: Record<string, unknown>) => {
  const { id, createdAt, updatedAt, nonce, paymentKey, payer, asset, payTo, signature, payloadSha256, ...rest } = row;
  expect(typeof id).toBe("string");
  expect(createdAt).toBeInstanceOf(Date);
  expect(updatedAt).toBeInstanceOf(Date);
  return rest;
};

it("stores each row as the query builder's insert does", async () => {
  const cases = [
    values(),
    values({ state: "queued", version: 1, apiKeyId: "shop-1", paymentId: "pay_0123456789abcdef" }),
    values({ chargedAmount: "0", state: "confirmed", payload: null, relayerNonce: 7n, searchFromBlock: 123n }),
    values({ successAnsweredAt: new Date("2026-12-02T10:00:00.123Z"), errorReason: "x", errorMessage: "y" }),
  ];
  for (const v of cases) {
    const nonce = hex(32);
    const other = { ...v, nonce, paymentKey: nonce, payer: hex(20) };
    const [mine] = await insertSettlements(database.db, [v]);
    const [theirs] = await database.db.insert(settlements).values(other).returning();
    expect(comparable(mine!)).toEqual(comparable(theirs!));
    // What JavaScript cannot tell apart: SQL NULL and a JSON null in a jsonb column.
    const nulls = (await database.db.execute(
      sql`select id, payload is null as "none" from settlements where id in (${mine!.id}, ${theirs!.id})`,
    )) as unknown as { none: boolean }[];
    expect(nulls[0]!.none).toBe(nulls[1]!.none);
    // And as read back through the query builder.
    const [stored] = await database.db.select().from(settlements).where(eq(settlements.id, mine!.id));
    expect(stored).toEqual(mine);
  }
});

it("inserts nothing for a payment key already held, and the others of its batch", async () => {
  const held = values();
  await insertSettlements(database.db, [held]);
  const fresh = values();
  const rows = await insertSettlements(database.db, [{ ...held, signature: hex(65) }, fresh]);
  expect(rows.map((r) => r.paymentKey)).toEqual([fresh.paymentKey]);
  expect(await insertSettlements(database.db, [])).toEqual([]);
});
