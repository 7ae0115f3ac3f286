// Compare-and-set for many settlements in one statement: each transition's row moves only if it
// is still at (state, version), its event is written and its waiters are notified, all from one
// parameter (the transitions as JSON), whatever their number. Row by row through the query
// builder, each move cost a statement built, sent and parsed; under load that was most of the
// worker's CPU. Rows are locked in id order first, as every batch here locks them.
import { getTableColumns, sql } from "drizzle-orm";
import { settlements } from "./schema.js";

type Row = typeof settlements.$inferSelect;
type Patch = Partial<Omit<typeof settlements.$inferInsert, "id" | "state" | "version">>;

export interface CasMove {
  id: string;
  from: string;
  version: number;
  to: string;
  patch?: Patch;
  txHash?: string;
  detail?: Record<string, unknown>;
}

interface Runner {
  execute(query: ReturnType<typeof sql>): Promise<unknown>;
}

const COLUMNS = Object.entries(getTableColumns(settlements));
const FIXED = new Set(["id", "state", "version", "updatedAt", "createdAt"]);
/** camelCase field → database column, for the fields a patch may set. */
const PATCHABLE = new Map(COLUMNS.filter(([key]) => !FIXED.has(key)).map(([key, col]) => [key, col]));

// One SET term per patchable column: the patch's value when it names the column, else unchanged.
const SET_TERMS = [...PATCHABLE.values()]
  .map((col) => {
    const type = col.getSQLType();
    const value = type === "jsonb" ? `v.patch->'${col.name}'` : `(v.patch->>'${col.name}')::${type}`;
    return `"${col.name}" = CASE WHEN v.patch ? '${col.name}' THEN ${value} ELSE s."${col.name}" END`;
  })
  .join(",\n      ");

const STATEMENT = `
  WITH v AS (
    SELECT * FROM jsonb_to_recordset($json::jsonb)
      AS v(ord int, id uuid, from_state text, version int, to_state text, patch jsonb, tx_hash text, detail jsonb)
  ), locked AS (
    SELECT s.id FROM settlements s WHERE s.id IN (SELECT id FROM v) ORDER BY s.id FOR UPDATE
  ), moved AS (
    UPDATE settlements s SET
      state = v.to_state, version = s.version + 1, updated_at = now(),
      ${SET_TERMS}
    FROM v
    WHERE s.id = v.id AND s.state = v.from_state AND s.version = v.version AND s.id IN (SELECT id FROM locked)
    RETURNING s.*, v.ord AS cas_ord, v.from_state AS cas_from, v.tx_hash AS cas_tx_hash, v.detail AS cas_detail
  ), events AS (
    INSERT INTO settlement_events (settlement_id, from_state, to_state, version, tx_hash, detail)
    SELECT id, cas_from, state, version, cas_tx_hash, cas_detail FROM moved
  )
  SELECT moved.*, pg_notify('settlement_changed', moved.id::text || ' ' || moved.state) AS cas_notified FROM moved`;
const [BEFORE_JSON, AFTER_JSON] = STATEMENT.split("$json") as [string, string];

export const jsonValue = (v: unknown) => (typeof v === "bigint" ? v.toString() : v instanceof Date ? v.toISOString() : v);

/** A settlement row as the database returned it (column names), as drizzle would map it. */
export function rowFromDb(raw: Record<string, unknown>): Row {
  const row: Record<string, unknown> = {};
  for (const [key, col] of COLUMNS) {
    const value = raw[col.name];
    row[key] = value === null || value === undefined ? null : col.mapFromDriverValue(value);
  }
  return row as Row;
}

/** The moves' new rows, in the order given; undefined where the row was no longer at (from, version). */
export async function casMany(tx: Runner, moves: CasMove[]): Promise<(Row | undefined)[]> {
  if (!moves.length) return [];
  const payload = moves.map((m, ord) => {
    const patch: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(m.patch ?? {})) {
      const col = PATCHABLE.get(key);
      if (!col) throw new Error(`a transition cannot set ${key}`);
      if (value !== undefined) patch[col.name] = jsonValue(value);
    }
    return {
      ord,
      id: m.id,
      from_state: m.from,
      version: m.version,
      to_state: m.to,
      patch,
      tx_hash: m.txHash ?? null,
      detail: m.detail ?? null,
    };
  });
  const result = (await tx.execute(sql`${sql.raw(BEFORE_JSON)}${JSON.stringify(payload)}${sql.raw(AFTER_JSON)}`)) as Record<
    string,
    unknown
  >[];
  const out: (Row | undefined)[] = new Array(moves.length);
  for (const raw of result) out[Number(raw.cas_ord)] = rowFromDb(raw);
  return out;
}
