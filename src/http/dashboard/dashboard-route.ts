// GET /dashboard: the read-only operator page, behind a login with the admin key. Pages are
// rendered on the server from the same reads as the admin JSON API; it has no write actions.
// Registered under the /dashboard prefix, so its hooks and 404 cover every dashboard path.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import type { SettlementQueries } from "../../db/settlement-queries.js";
import { presentSettlement } from "../../settle/present.js";
import { createKeyRing } from "../auth.js";
import { readCookie, sessionCookie } from "./cookies.js";
import type { SafeHtml } from "./html.js";
import { firstProblem } from "../invalid-request.js";
import { loginPage, messagePage } from "./layout.js";
import type { OperatorReads } from "./operator-reads.js";
import { overviewPage } from "./overview-page.js";
import { searchPage, searchQuery, searchSettlements, settlementId } from "./search-page.js";
import { createSessions, SESSION_COOKIE, SESSION_TTL_SECONDS } from "./session.js";
import { settlementPage } from "./settlement-page.js";
import { STYLESHEET } from "./style.js";

export interface DashboardDeps {
  adminApiKey: string;
  /** The path the dashboard is served at, basePath included (also the cookie's Path). */
  base: string;
  queries: SettlementQueries;
  reads: OperatorReads;
}

const HEADERS = {
  "content-security-policy":
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
};
const RECENT = 50;
const idParams = z.strictObject({ id: settlementId });

/** Browsers say where a form post comes from; another site may not log in or out for the operator. */
const crossSite = (req: FastifyRequest) => ["cross-site", "same-site"].includes(String(req.headers["sec-fetch-site"]));

export async function dashboardRoute(app: FastifyInstance, deps: DashboardDeps): Promise<void> {
  const { base, queries, reads } = deps;
  const sessions = createSessions(deps.adminApiKey);
  const adminKey = createKeyRing([deps.adminApiKey]);

  app.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string", bodyLimit: 4096 }, (_req, body, done) =>
    done(null, new URLSearchParams(body as string)),
  );
  app.addHook("onSend", async (_req, reply, payload) => {
    reply.headers(HEADERS);
    return payload;
  });
  app.setNotFoundHandler((_req, reply) => reply.code(404).type("text/plain; charset=utf-8").send("not found"));

  const page = (reply: FastifyReply, body: SafeHtml) => reply.type("text/html; charset=utf-8").send(body.value);
  const setSession = (req: FastifyRequest, reply: FastifyReply, value: string, maxAgeSeconds: number) =>
    reply.header("set-cookie", sessionCookie(SESSION_COOKIE, value, { path: base, maxAgeSeconds, secure: req.protocol === "https" }));
  /** Only a path of this dashboard: never another origin or page. */
  const ownPath = new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(?:[/?]|$)`);
  const safeNext = (next: string | null | undefined) =>
    next && next.length <= 300 && /^[\x21-\x7e]*$/.test(next) && !/\/\/|\\/.test(next) && ownPath.test(next) ? next : undefined;
  const requireSession = async (req: FastifyRequest, reply: FastifyReply) => {
    if (!sessions.valid(readCookie(req.headers.cookie, SESSION_COOKIE)))
      return page(reply.code(401), loginPage(base, { next: safeNext(req.url) }));
  };

  app.get("/style.css", async (_req, reply) => reply.type("text/css; charset=utf-8").send(STYLESHEET));

  app.post("/login", async (req, reply) => {
    if (crossSite(req)) return reply.code(403).type("text/plain; charset=utf-8").send("cross-site form posts are refused");
    const form = req.body instanceof URLSearchParams ? req.body : new URLSearchParams();
    const next = safeNext(form.get("next"));
    if (!adminKey.match(`Bearer ${form.get("key") ?? ""}`)) {
      req.log.info("dashboard login refused");
      return page(reply.code(401), loginPage(base, { error: "That is not the admin key.", next }));
    }
    setSession(req, reply, sessions.issue(), SESSION_TTL_SECONDS);
    return reply.redirect(next ?? base, 303);
  });

  app.post("/logout", async (req, reply) => {
    if (crossSite(req)) return reply.code(403).type("text/plain; charset=utf-8").send("cross-site form posts are refused");
    setSession(req, reply, "", 0);
    return reply.redirect(base, 303);
  });

  app.get("/", { preHandler: requireSession }, async (_req, reply) => {
    const [recent, hour, day, backlog, relayers, webhooks] = await Promise.all([
      queries.list({ limit: RECENT }),
      reads.outcomes("1h"),
      reads.outcomes("24h"),
      reads.backlog(),
      reads.relayers(),
      reads.webhooks?.(),
    ]);
    return page(reply, overviewPage(base, { recent: recent.map(presentSettlement), outcomes: [hour, day], backlog, relayers, webhooks }));
  });

  app.get("/search", { preHandler: requireSession }, async (req, reply) => {
    const parsed = searchQuery.safeParse(req.query ?? {});
    if (!parsed.success) {
      const given = (req.query as { q?: unknown } | undefined)?.q;
      return page(reply.code(400), searchPage(base, typeof given === "string" ? given : "", { error: firstProblem(parsed.error).message }));
    }
    return page(reply, searchPage(base, parsed.data.q, { items: await searchSettlements(queries, parsed.data.q) }));
  });

  app.get("/settlements/:id", { preHandler: requireSession }, async (req, reply) => {
    const parsed = idParams.safeParse(req.params);
    if (!parsed.success) return page(reply.code(400), messagePage(base, "Bad request", firstProblem(parsed.error).message));
    const row = await queries.byId(parsed.data.id);
    if (!row) return page(reply.code(404), messagePage(base, "Not found", "No settlement has this id."));
    return page(reply, settlementPage(base, presentSettlement(row), await queries.history(row.id)));
  });
}
