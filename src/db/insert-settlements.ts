// New settlement rows from one parameter (the rows as JSON), whatever their number, the way
// cas-many.ts moves them: through the query builder a claim batch was a statement of one
// parameter per column per row, built object by object, and under load that was the largest
// share of the api's allocations. Returns the rows inserted (a payment key already held inserts
// nothing), in the order given.
import { getTableColumns, sql } from "drizzle-orm";
import { jsonValue, rowFromDb } from "./cas-many.js";
import { settlements } from "./schema.js";

type Row = typeof settlements.$inferSelect;
type NewRow = typeof settlements.$inferInsert;

interface Runner {
  execute(query: ReturnType<typeof sql>): Promise<unknown>;
}

const COLUMNS = Object.entries(getTableColumns(settlements));

/** The table's own defaults, for a row that leaves the column out (migrations/). */
const DEFAULTS: Record<string, string> = {
  id: "gen_random_uuid()",
  state: "'received'",
  version: "0",
  created_at: "now()",
  updated_at: "now()",
};
const defaulted = COLUMNS.filter(([, col]) => col.hasDefault).map(([, col]) => col.name);
if (defaulted.sort().join() !== Object.keys(DEFAULTS).sort().join())
  throw new Error(`settlements' defaulted columns are ${defaulted.join(", ")}: insert-settlements.ts must know each default`);

const TERMS = COLUMNS.map(([key, col]) => {
  const type = col.getSQLType();
  // A JSON null is SQL NULL, as the query builder inserts it.
  const value = type === "jsonb" ? `NULLIF(v.j->'${key}', 'null'::jsonb)` : `(v.j->>'${key}')::${type}`;
  return DEFAULTS[col.name] ? `COALESCE(${value}, ${DEFAULTS[col.name]})` : value;
});

const STATEMENT = `
  INSERT INTO settlements (${COLUMNS.map(([, col]) => `"${col.name}"`).join(", ")})
  SELECT ${TERMS.join(",\n    ")}
  FROM jsonb_array_elements($json::jsonb) WITH ORDINALITY AS v(j, ord)
  ORDER BY v.ord
  ON CONFLICT DO NOTHING
  RETURNING *`;
const [BEFORE_JSON, AFTER_JSON] = STATEMENT.split("$json") as [string, string];

export async function insertSettlements(tx: Runner, rows: NewRow[]): Promise<Row[]> {
  if (!rows.length) return [];
  const payload = rows.map((r) => {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(r)) if (value !== undefined) out[key] = jsonValue(value);
    return out;
  });
  const result = (await tx.execute(sql`${sql.raw(BEFORE_JSON)}${JSON.stringify(payload)}${sql.raw(AFTER_JSON)}`)) as Record<
    string,
    unknown
  >[];
  return result.map(rowFromDb);
}
