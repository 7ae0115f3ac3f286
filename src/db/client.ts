import { drizzle, type PostgresJsDatabase } from "drizzle-orm/postgres-js";
import postgres, { type Sql } from "postgres";
import * as schema from "./schema.js";

export type Db = PostgresJsDatabase<typeof schema>;

export interface Database {
  sql: Sql;
  db: Db;
  close(): Promise<void>;
}

export function connectDatabase(url: string, opts: { max?: number } = {}): Database {
  const sql = postgres(url, {
    max: opts.max ?? 10,
    // A dead database must fail a request quickly (503), not hang it.
    connect_timeout: 5,
    // The driver's own backoff grows with every failed attempt, pool-wide, up to 20 s: after a
    // few seconds of outage a restarted database would stay unused for that long. Retry within
    // a second instead (refused connections cost nothing).
    backoff: (attempt: number) => Math.min(0.05 * 2 ** attempt, 1),
    idle_timeout: 30,
    onnotice: () => {},
  });
  const db = drizzle(preparing(sql), { schema });
  return { sql, db, close: () => sql.end({ timeout: 5 }) };
}

/**
 * drizzle runs every query through postgres.js's `unsafe` with prepare off, and for an unnamed
 * statement with parameters postgres.js first asks the server for their types: two round trips
 * and a fresh parse and plan per query. Prepared, each statement text is parsed once per
 * connection and then costs one round trip. drizzle's statement texts are fixed (values go in as
 * parameters), so the per-connection cache stays small; postgres.js re-prepares a statement the
 * server no longer accepts. Transactions get the same treatment.
 */
function preparing(sql: Sql): Sql {
  return new Proxy(sql, {
    get(target, prop, receiver) {
      if (prop === "unsafe")
        return (query: string, args?: unknown[], options?: object) => target.unsafe(query, args as never, { ...options, prepare: true });
      if (prop === "begin" || prop === "savepoint")
        return (...params: unknown[]) => {
          const fn = params.pop() as (tx: Sql) => unknown;
          const open = (target as unknown as Record<string, (...a: unknown[]) => unknown>)[prop]!;
          return open.apply(target, [...params, (tx: Sql) => fn(preparing(tx))]);
        };
      return Reflect.get(target, prop, receiver);
    },
  });
}
