// Search results: one box takes a payer or pay-to address, a transaction hash or a settlement id,
// and answers from the same queries as GET /settlements?payer=|payTo=, /settlements/by-tx/:hash
// and /settlements/:id.
import { z } from "zod";
import type { SettlementQueries } from "../../db/settlement-queries.js";
import type { SettlementRow } from "../../db/settlements-repo.js";
import { presentSettlement, type SettlementResource } from "../../settle/present.js";
import { settlementsTable } from "./fragments.js";
import { html, type SafeHtml } from "./html.js";
import { layout } from "./layout.js";

const LIMIT = 50;

const UUID = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";

/** A settlement id as GET /settlements/:id takes it. */
export const settlementId = z
  .string()
  .regex(new RegExp(`^${UUID}$`), "must be a settlement id (uuid)")
  .transform((s) => s.toLowerCase());

export const searchQuery = z.strictObject({
  q: z
    .string()
    .trim()
    .regex(
      new RegExp(`^(0x[0-9a-fA-F]{40}|0x[0-9a-fA-F]{64}|${UUID})$`),
      "enter a payer or pay-to address (0x + 40 hex), a transaction hash (0x + 64 hex) or a settlement id (uuid)",
    )
    .transform((s) => s.toLowerCase()),
});

export async function searchSettlements(queries: SettlementQueries, q: string): Promise<SettlementResource[]> {
  let rows: SettlementRow[];
  if (q.length === 42) {
    const [asPayer, asPayTo] = await Promise.all([queries.list({ payer: q, limit: LIMIT }), queries.list({ payTo: q, limit: LIMIT })]);
    const byId = new Map([...asPayer, ...asPayTo].map((r) => [r.id, r]));
    rows = [...byId.values()].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1)).slice(0, LIMIT);
  } else {
    const id = q.length === 66 ? await queries.byTxHash(q) : q;
    const row = id && (await queries.byId(id));
    rows = row ? [row] : [];
  }
  return rows.map(presentSettlement);
}

export function searchForm(base: string, q = "", error?: string): SafeHtml {
  return html`<form class="search" method="get" action="${base}/search" role="search">
    <label for="q">Find settlements by payer, pay-to address, transaction hash or settlement id</label>
    <input id="q" name="q" type="search" value="${q}" maxlength="100" required />
    <button type="submit">Search</button>
    ${error ? html`<p class="error" role="alert">${error}</p>` : ""}
  </form>`;
}

export function searchPage(base: string, q: string, o: { items?: SettlementResource[]; error?: string }): SafeHtml {
  return layout(
    { base, signedIn: true },
    "Search",
    html`<p><a href="${base}">← Overview</a></p>
      <h1>Search</h1>
      ${searchForm(base, q, o.error)}
      ${
        o.items
          ? html`<section id="results">
              <h2>Results for <code>${q}</code></h2>
              ${settlementsTable(base, o.items)}
            </section>`
          : ""
      }`,
  );
}
