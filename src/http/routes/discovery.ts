// The Bazaar: GET /discovery/resources (offset pages with a total) and GET /discovery/search
// (full text, cursor pages), in the official shapes, for agents looking for paid APIs; and the
// operator's controls over the catalog (admin key). Only visible, recently seen entries are listed.
import type { FastifyInstance, preHandlerAsyncHookHandler } from "fastify";
import { z } from "zod";
import type { CatalogFilter, CatalogStore } from "../../discovery/catalog-store.js";
import type { CatalogRow } from "../../discovery/catalog-table.js";
import { badRequest, ledgerAddress } from "../invalid-request.js";

const limit = z
  .string()
  .regex(/^[1-9][0-9]{0,2}$/, "must be 1 to 100")
  .transform(Number)
  .refine((n) => n <= 100, "must be 1 to 100");
const offset = z
  .string()
  .regex(/^(0|[1-9][0-9]{0,8})$/, "must be a whole number")
  .transform(Number);
/** Printable text only: a NUL or other control character is bad input, never a database error. */
const printable = (max: number) =>
  z
    .string()
    .max(max)
    .regex(/^[^\p{Cc}\p{Cs}]*$/u, "must not contain control characters");
const filters = {
  type: z.enum(["http", "mcp"]).optional(),
  payTo: ledgerAddress.optional(),
  scheme: printable(32).min(1).optional(),
  network: printable(64).min(1).optional(),
  extensions: printable(200)
    .transform((s) =>
      s
        .split(",")
        .map((x) => x.trim())
        .filter(Boolean),
    )
    .optional(),
};

export const resourcesQuery = z.strictObject({ ...filters, limit: limit.optional(), offset: offset.optional() });
export const searchQuery = z.strictObject({
  query: printable(200).trim().min(1, "must not be empty"),
  ...filters,
  limit: limit.optional(),
  cursor: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,16}$/, "must be a cursor from a previous page")
    .optional(),
});
export const adminResourcesQuery = z.strictObject({ payTo: ledgerAddress.optional(), limit: limit.optional(), offset: offset.optional() });

const DEFAULT_LIMIT = 20;

/** A catalog row as the official discovery client reads it. */
export function presentResource(row: CatalogRow) {
  return {
    resource: row.resource,
    type: row.type,
    x402Version: row.x402Version,
    accepts: Object.values(row.accepts),
    lastUpdated: row.lastSeen.toISOString(),
    ...(row.description ? { description: row.description } : {}),
    ...(row.mimeType ? { mimeType: row.mimeType } : {}),
    ...(row.serviceName ? { serviceName: row.serviceName } : {}),
    ...(row.tags?.length ? { tags: row.tags } : {}),
    ...(row.iconUrl ? { iconUrl: row.iconUrl } : {}),
    extensions: { bazaar: row.bazaar },
  };
}

const presentForOperator = (row: CatalogRow) => ({
  id: row.id.toString(),
  payTo: row.payTo,
  ...presentResource(row),
  firstSeen: row.firstSeen.toISOString(),
  hidden: row.hiddenAt !== null,
});

const filterOf = (q: { type?: string; payTo?: string; scheme?: string; network?: string; extensions?: string[] }): CatalogFilter => ({
  type: q.type,
  payTo: q.payTo,
  scheme: q.scheme,
  network: q.network,
  extensions: q.extensions,
});

const cursorOf = (n: number) => Buffer.from(String(n)).toString("base64url");
const offsetOf = (cursor?: string) => {
  if (!cursor) return 0;
  const text = Buffer.from(cursor, "base64url").toString();
  return /^(0|[1-9][0-9]{0,8})$/.test(text) ? Number(text) : -1;
};

export async function discoveryRoute(app: FastifyInstance, deps: { store: CatalogStore }): Promise<void> {
  app.get("/discovery/resources", async (req, reply) => {
    const parsed = resourcesQuery.safeParse(req.query);
    if (!parsed.success) return badRequest(reply, parsed.error);
    const q = parsed.data;
    const [lim, off] = [q.limit ?? DEFAULT_LIMIT, q.offset ?? 0];
    const { rows, total } = await deps.store.list(filterOf(q), lim, off);
    return { x402Version: 2, items: rows.map(presentResource), pagination: { limit: lim, offset: off, total } };
  });

  app.get("/discovery/search", async (req, reply) => {
    const parsed = searchQuery.safeParse(req.query);
    if (!parsed.success) return badRequest(reply, parsed.error);
    const q = parsed.data;
    const off = offsetOf(q.cursor);
    if (!Number.isSafeInteger(off) || off < 0)
      return reply.code(400).send({ error: "invalid_request", field: "cursor", message: "cursor: must be a cursor from a previous page" });
    const lim = q.limit ?? DEFAULT_LIMIT;
    // One more than asked says whether another page exists.
    const rows = await deps.store.search(q.query, filterOf(q), lim + 1, off);
    return {
      x402Version: 2,
      resources: rows.slice(0, lim).map(presentResource),
      partialResults: false,
      pagination: { limit: lim, cursor: rows.length > lim ? cursorOf(off + lim) : null },
    };
  });
}

export async function discoveryAdminRoute(
  app: FastifyInstance,
  deps: { store: CatalogStore; auth: preHandlerAsyncHookHandler },
): Promise<void> {
  const idOf = (raw: string) => (/^[1-9][0-9]{0,17}$/.test(raw) ? BigInt(raw) : undefined);
  const badId = { error: "invalid_request", field: "id", message: "id: must be a catalog entry id" };

  app.get("/discovery/admin/resources", { preHandler: deps.auth }, async (req, reply) => {
    const parsed = adminResourcesQuery.safeParse(req.query);
    if (!parsed.success) return badRequest(reply, parsed.error);
    const rows = await deps.store.byPayTo(parsed.data.payTo, parsed.data.limit ?? DEFAULT_LIMIT, parsed.data.offset ?? 0);
    return { items: rows.map(presentForOperator) };
  });

  for (const [action, hidden] of [
    ["hide", true],
    ["unhide", false],
  ] as const) {
    app.post<{ Params: { id: string } }>(`/discovery/admin/resources/:id/${action}`, { preHandler: deps.auth }, async (req, reply) => {
      const id = idOf(req.params.id);
      if (id === undefined) return reply.code(400).send(badId);
      const row = await deps.store.setHidden(id, hidden);
      if (!row) return reply.code(404).send({ error: "not_found", message: "no such catalog entry" });
      return presentForOperator(row);
    });
  }

  app.delete<{ Params: { id: string } }>("/discovery/admin/resources/:id", { preHandler: deps.auth }, async (req, reply) => {
    const id = idOf(req.params.id);
    if (id === undefined) return reply.code(400).send(badId);
    if (!(await deps.store.remove(id))) return reply.code(404).send({ error: "not_found", message: "no such catalog entry" });
    return reply.code(204).send();
  });
}
