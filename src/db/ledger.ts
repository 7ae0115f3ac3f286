// Reads and writes of the settlement ledger. A database that cannot be reached surfaces as
// DatabaseUnavailableError (HTTP 503), never as a verdict.
import { sql as dsql } from "drizzle-orm";
import { DatabaseUnavailableError } from "../errors.js";
import type { AuthorizationKey } from "../verify/intent.js";
import type { Sql } from "postgres";
import type { Db } from "./client.js";
import { relayerNonces } from "./schema.js";

const UNREACHABLE = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
]);

/** The code of the first error in the cause chain that says the database could not be reached. */
export function unreachableCode(err: unknown): string | undefined {
  for (let e = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    // SQLSTATE classes 08 (connection) and 57P (shutdown), and socket-level failures.
    if (typeof code === "string" && (UNREACHABLE.has(code) || /^08|^57P/.test(code))) return code;
  }
  return undefined;
}

export async function guardDb<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    const code = unreachableCode(err);
    if (code) throw new DatabaseUnavailableError(`${what}: database unavailable (${code})`, err);
    throw err;
  }
}

export function createLedger(db: Db, sql: Sql) {
  return {
    /** On every verify: a prepared statement on the unique key, without a query builder in the way. */
    async isClaimed(key: AuthorizationKey): Promise<boolean> {
      const rows = await guardDb(
        "ledger lookup",
        () =>
          sql`select 1 from settlements where chain_id = ${key.chainId} and asset = ${key.asset} and payer = ${key.payer} and nonce = ${key.nonce} limit 1`,
      );
      return rows.length > 0;
    },

    /** Relayer addresses the worker registered, for /supported when none are configured. */
    async relayerAddresses(): Promise<string[]> {
      const rows = await guardDb("relayer lookup", () =>
        db.selectDistinct({ address: relayerNonces.address }).from(relayerNonces).orderBy(relayerNonces.address),
      );
      return rows.map((r) => r.address);
    },

    async ping(): Promise<void> {
      await db.execute(dsql`select 1`);
    },
  };
}

export type Ledger = ReturnType<typeof createLedger>;
