// Reads and writes of the settlement ledger. A database that cannot be reached surfaces as
// DatabaseUnavailableError (HTTP 503), never as a verdict.
import { sql as dsql } from "drizzle-orm";
import { DatabaseUnavailableError } from "../errors.js";
import type { Sql } from "postgres";
import type { Db } from "./client.js";
import { relayerNonces, type PaymentKey } from "./schema.js";

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

/** Coalesces calls made in one event-loop turn into one call of `run` over all their inputs. */
export function batchLookups<K, V>(run: (keys: K[]) => Promise<V[]>): (key: K) => Promise<V> {
  let pending: { key: K; resolve(v: V): void; reject(e: unknown): void }[] = [];
  return (key) =>
    new Promise<V>((resolve, reject) => {
      if (pending.push({ key, resolve, reject }) > 1) return;
      setImmediate(() => {
        const batch = pending;
        pending = [];
        run(batch.map((p) => p.key)).then(
          (values) => batch.forEach((p, i) => p.resolve(values[i]!)),
          (err: unknown) => batch.forEach((p) => p.reject(err)),
        );
      });
    });
}

export function createLedger(db: Db, sql: Sql) {
  return {
    /**
     * On every verify. Lookups made in the same event-loop turn go to Postgres as one query on
     * the unique key, so a burst of verifies costs one round trip and one statement.
     */
    isClaimed: batchLookups<PaymentKey, boolean>(async (keys) => {
      // int4[] (oid 1007) and text[] (oid 1009), one element per lookup, numbered by ordinality.
      const chainIds = sql.array(
        keys.map((k) => k.chainId),
        1007,
      );
      const paymentKeys = sql.array(
        keys.map((k) => k.key),
        1009,
      );
      const rows = await guardDb(
        "ledger lookup",
        () => sql<{ k: number }[]>`
          select k.i as k from settlements s
          join unnest(${chainIds}, ${paymentKeys}) with ordinality as k(chain_id, payment_key, i)
            on s.chain_id = k.chain_id and s.payment_key = k.payment_key`,
      );
      const found = new Set(rows.map((r) => Number(r.k) - 1));
      return keys.map((_, i) => found.has(i));
    }),

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
