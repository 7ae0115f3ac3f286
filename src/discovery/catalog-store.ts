// The Bazaar catalog in Postgres: batched upserts from the writer, the public listings (hidden
// and stale entries left out) and the operator's controls. One row per merchant's resource
// (entry_key includes payTo), so a second merchant can never replace the first's entry.
import { and, count, desc, eq, gt, isNull, sql, type SQL } from "drizzle-orm";
import type { Db } from "../db/client.js";
import { guardDb } from "../db/ledger.js";
import { discoveryResources, type CatalogRow } from "./catalog-table.js";
import type { CatalogEntry } from "./entry.js";

export interface CatalogFilter {
  type?: string;
  payTo?: string;
  scheme?: string;
  network?: string;
  /** Extension keys every entry listed must declare. */
  extensions?: string[];
}

const t = discoveryResources;

/** Entries seen in one batch twice become one: accepts merged, the later words kept. */
function merged(entries: readonly CatalogEntry[]): CatalogEntry[] {
  const byKey = new Map<string, CatalogEntry>();
  for (const e of entries) {
    const before = byKey.get(e.key);
    byKey.set(e.key, before ? { ...e, accepts: { ...before.accepts, ...e.accepts } } : e);
  }
  return [...byKey.values()];
}

const searchTextOf = (e: CatalogEntry) => [e.description, e.serviceName, ...(e.tags ?? [])].filter(Boolean).join(" ");

export function createCatalogStore(db: Db, opts: { maxAgeDays: number }) {
  const listed = (f: CatalogFilter): SQL | undefined => {
    const where: (SQL | undefined)[] = [isNull(t.hiddenAt), gt(t.lastSeen, sql`now() - make_interval(days => ${opts.maxAgeDays})`)];
    if (f.type) where.push(eq(t.type, f.type as "http" | "mcp"));
    if (f.payTo) where.push(eq(t.payTo, f.payTo));
    if (f.scheme) where.push(sql`exists (select 1 from jsonb_each(${t.accepts}) a where a.value->>'scheme' = ${f.scheme})`);
    if (f.network) where.push(sql`exists (select 1 from jsonb_each(${t.accepts}) a where a.value->>'network' = ${f.network})`);
    // Every entry declares bazaar, and nothing else is kept: any other key matches none.
    if (f.extensions?.some((x) => x !== "bazaar")) where.push(sql`false`);
    return and(...where);
  };

  return {
    async upsertMany(entries: readonly CatalogEntry[]): Promise<void> {
      if (!entries.length) return;
      const rows = merged(entries).map((e) => ({
        entryKey: e.key,
        type: e.type,
        resource: e.resource,
        toolName: e.toolName ?? null,
        method: e.method ?? null,
        payTo: e.payTo,
        x402Version: e.x402Version,
        accepts: e.accepts,
        description: e.description ?? null,
        mimeType: e.mimeType ?? null,
        serviceName: e.serviceName ?? null,
        tags: e.tags ?? null,
        iconUrl: e.iconUrl ?? null,
        bazaar: e.bazaar,
        searchText: searchTextOf(e),
      }));
      await guardDb("catalog write", () =>
        db
          .insert(t)
          .values(rows)
          .onConflictDoUpdate({
            target: t.entryKey,
            set: {
              accepts: sql`${t.accepts} || excluded.accepts`,
              x402Version: sql`excluded.x402_version`,
              method: sql`excluded.method`,
              description: sql`excluded.description`,
              mimeType: sql`excluded.mime_type`,
              serviceName: sql`excluded.service_name`,
              tags: sql`excluded.tags`,
              iconUrl: sql`excluded.icon_url`,
              bazaar: sql`excluded.bazaar`,
              searchText: sql`excluded.search_text`,
              lastSeen: sql`now()`,
            },
          }),
      );
    },

    async list(f: CatalogFilter, limit: number, offset: number): Promise<{ rows: CatalogRow[]; total: number }> {
      const where = listed(f);
      const [rows, [counted]] = await guardDb("catalog listing", () =>
        Promise.all([
          db.select().from(t).where(where).orderBy(desc(t.lastSeen), desc(t.id)).limit(limit).offset(offset),
          db.select({ n: count() }).from(t).where(where),
        ]),
      );
      return { rows, total: counted?.n ?? 0 };
    },

    /** Full-text search (English stemming) over description, service name and tags, best match first. */
    async search(query: string, f: CatalogFilter, limit: number, offset: number): Promise<CatalogRow[]> {
      const q = sql`websearch_to_tsquery('english', ${query})`;
      const vector = sql`to_tsvector('english', ${t.searchText})`;
      return guardDb("catalog search", () =>
        db
          .select()
          .from(t)
          .where(and(listed(f), sql`${vector} @@ ${q}`))
          .orderBy(sql`ts_rank(${vector}, ${q}) desc`, desc(t.id))
          .limit(limit)
          .offset(offset),
      );
    },

    /** Operator view: a merchant's entries, hidden and stale ones included. */
    async byPayTo(payTo: string | undefined, limit: number, offset: number): Promise<CatalogRow[]> {
      return guardDb("catalog by payTo", () =>
        db
          .select()
          .from(t)
          .where(payTo ? eq(t.payTo, payTo) : undefined)
          .orderBy(desc(t.lastSeen), desc(t.id))
          .limit(limit)
          .offset(offset),
      );
    },

    async setHidden(id: bigint, hidden: boolean): Promise<CatalogRow | undefined> {
      const [row] = await guardDb("catalog hide", () =>
        db
          .update(t)
          .set({ hiddenAt: hidden ? sql`now()` : null })
          .where(eq(t.id, id))
          .returning(),
      );
      return row;
    },

    async remove(id: bigint): Promise<boolean> {
      const rows = await guardDb("catalog remove", () => db.delete(t).where(eq(t.id, id)).returning({ id: t.id }));
      return rows.length > 0;
    },
  };
}

export type CatalogStore = ReturnType<typeof createCatalogStore>;
