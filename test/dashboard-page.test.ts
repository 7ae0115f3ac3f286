// The operator page in headless Chromium: the login, a search by transaction hash, a settlement's
// history, the headers and cookie that keep the page to the operator, ledger text rendered as
// text, and the admin JSON endpoints the page's figures come from.
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ANVIL_KEYS } from "../src/devnet/anvil.js";
import { sessionCookie } from "../src/http/dashboard/cookies.js";
import { createSessions, SESSION_COOKIE, SESSION_TTL_SECONDS } from "../src/http/dashboard/session.js";
import { startTestChain, type TestChain } from "./support/chain.js";
import { ADMIN_KEY, startFacilitator, type TestFacilitator } from "./support/facilitator.js";
import { fundedPayment } from "./support/payments.js";
import { freePort } from "./support/ports.js";

const CHROMIUM = "/usr/bin/chromium";
const FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];
const CSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
const HOSTILE = `<script>window.__owned = 1</script><b>bold</b>`;
const relayer = privateKeyToAccount(ANVIL_KEYS[0]).address.toLowerCase();
const payTo = privateKeyToAccount(ANVIL_KEYS[3]).address;

let chain: TestChain;
let fac: TestFacilitator;
let browser: Browser;
let txHash: string;
let settlementId: string;
let payer: string;
let webhookUrl: string;

async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const get = (path: string, headers: Record<string, string> = {}) => fetch(`${fac.url}${path}`, { headers, redirect: "manual" });
const withSession = (token: string) => ({ cookie: `${SESSION_COOKIE}=${token}` });
const login = (key: string, headers: Record<string, string> = {}) =>
  fetch(`${fac.url}/dashboard/login`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams({ key }).toString(),
    redirect: "manual",
  });

/** A browser context logged in through the form, with what the browser saw on the way. */
async function loggedIn(): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems: string[] = [];
  page.on("console", (m) => {
    // Chromium reports what the CSP refused on the console ("Refused to apply inline style…").
    if (/Content Security Policy|Refused to/i.test(m.text())) problems.push(m.text());
  });
  page.on("pageerror", (e) => problems.push(e.message));
  await page.goto(`${fac.url}/dashboard`);
  await page.fill("#key", ADMIN_KEY);
  await page.click("form.login button[type=submit]");
  await page.waitForSelector("h1:has-text('Overview')");
  return { context, page, problems };
}

beforeAll(async () => {
  chain = await startTestChain();
  fac = await startFacilitator(chain, { WEBHOOK_ALLOW_PRIVATE_URLS: "1" }, { worker: false });
  // An endpoint nobody listens on: its delivery of the settlement's events fails and is retried.
  webhookUrl = `http://127.0.0.1:${await freePort()}/hooks/x402`;
  const created = await fetch(`${fac.url}/webhooks`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ url: webhookUrl }),
  });
  expect(created.status).toBe(201);
  await fac.startWorker({}, { webhookSweepMs: 200 });

  const p = await fundedPayment(chain, { payTo, value: 10_000n });
  payer = p.buyer.address.toLowerCase();
  const res = await fac.settle(p.body);
  expect(res.json).toMatchObject({ success: true });
  txHash = res.json.transaction;
  settlementId = (await fac.admin(`/settlements/by-tx/${txHash}`)).json.id;
  await until(
    async () => (await fac.admin(`/settlements/${settlementId}`)).json.state,
    (s) => s === "confirmed",
    "confirmed",
  );
  browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
});

afterAll(async () => {
  await browser?.close();
  await fac?.close();
  await chain?.stop();
});

it("logs in with the admin key, finds the settlement by its transaction hash and shows its history", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const first = await page.goto(`${fac.url}/dashboard`);
  expect(first!.status()).toBe(401);
  const headers = first!.headers();
  expect(headers["content-security-policy"]).toBe(CSP);
  expect(headers).toMatchObject({ "x-content-type-options": "nosniff", "referrer-policy": "no-referrer", "cache-control": "no-store" });
  expect(await page.locator("form.login input[name=key]").count()).toBe(1);
  expect(await page.locator("table").count()).toBe(0);
  await context.close();

  const { context: ctx, page: p, problems } = await loggedIn();
  const [cookie] = await ctx.cookies();
  expect(cookie).toMatchObject({ name: SESSION_COOKIE, httpOnly: true, sameSite: "Strict", path: "/dashboard", secure: false });
  expect(cookie!.value).not.toContain(ADMIN_KEY);
  expect(cookie!.expires - Date.now() / 1000).toBeLessThanOrEqual(SESSION_TTL_SECONDS + 5);

  // The overview: the relayer lane, the settlement among the newest, and the failing webhook.
  expect(await p.locator("#relayers").textContent()).toContain(relayer);
  expect(await p.locator("#recent").textContent()).toContain(settlementId);
  expect(await p.locator("#webhooks").textContent()).toContain(webhookUrl);

  const dir = join("test-results", "dashboard");
  mkdirSync(dir, { recursive: true });
  await p.screenshot({ path: join(dir, "overview.png"), fullPage: true });

  await p.fill("#q", txHash);
  await p.click("form.search button[type=submit]");
  await p.waitForSelector("#results");
  expect(await p.locator("#results tbody tr").count()).toBe(1);
  await p.click(`#results a:has-text("${settlementId}")`);
  await p.waitForSelector("#history");
  const states = await p.locator("table.events tbody tr td:nth-child(3)").allTextContents();
  expect(states).toEqual(["received", "queued", "signed", "submitted", "mined", "confirmed"]);
  expect(await p.locator("table.transactions").textContent()).toContain(txHash);
  expect(await p.locator("#fields").textContent()).toContain(payer);

  const file = join(dir, "settlement.png");
  await p.screenshot({ path: file, fullPage: true });
  const png = readFileSync(file);
  expect(png.subarray(0, 8).toString("hex")).toBe("89504e470d0a1a0a");
  expect(png.length).toBeGreaterThan(1000);
  // No inline script or style was refused: the page needs none.
  expect(problems).toEqual([]);

  await p.click("header button[type=submit]");
  await p.waitForSelector("form.login");
  expect(await ctx.cookies()).toEqual([]);
  const after = await p.goto(`${fac.url}/dashboard/settlements/${settlementId}`);
  expect(after!.status()).toBe(401);
  expect(await p.locator("#history").count()).toBe(0);
  await ctx.close();
});

it("shows nothing without a valid session, and a wrong key gets the form again with 401", async () => {
  // The form may carry the address asked for (to return there after the login), nothing else.
  const loginOnly = async (res: Response, asked = "") => {
    expect(res.status).toBe(401);
    const body = await res.text();
    expect(body).toContain('name="key"');
    expect(body).not.toContain("<table");
    for (const ledger of [txHash, payer, relayer, settlementId]) if (!asked.includes(ledger)) expect(body).not.toContain(ledger);
    expect(res.headers.get("content-security-policy")).toBe(CSP);
  };
  const sessions = createSessions(ADMIN_KEY);
  const [expires, nonce] = sessions.issue().split(".");
  for (const headers of [
    {},
    withSession(`${expires}.${nonce}.${"A".repeat(43)}`),
    withSession(sessions.issue(Date.now() - SESSION_TTL_SECONDS * 1000 - 1000)),
    withSession(createSessions("another-admin-key-0123456789").issue()),
    withSession(ADMIN_KEY),
  ]) {
    for (const path of ["/dashboard", `/dashboard/settlements/${settlementId}`, `/dashboard/search?q=${txHash}`])
      await loginOnly(await get(path, headers), path);
  }
  // A token made with the admin key is accepted by this process as by any other (or a restarted one).
  expect((await get("/dashboard", withSession(sessions.issue()))).status).toBe(200);

  const wrong = await login("not-the-admin-key-000000");
  await loginOnly(wrong);
  expect(wrong.headers.get("set-cookie")).toBeNull();

  const right = await login(ADMIN_KEY);
  expect(right.status).toBe(303);
  expect(right.headers.get("location")).toBe("/dashboard");
  const setCookie = right.headers.get("set-cookie")!;
  expect(setCookie).toMatch(
    new RegExp(`^${SESSION_COOKIE}=[^;]+; Path=/dashboard; Max-Age=${SESSION_TTL_SECONDS}; HttpOnly; SameSite=Strict$`),
  );
  expect(setCookie).not.toContain(ADMIN_KEY);
  // Over plain HTTP (as here) the cookie cannot be Secure; a request that came over TLS gets it.
  expect(sessionCookie(SESSION_COOKIE, "v", { path: "/dashboard", maxAgeSeconds: 1, secure: true })).toMatch(/; Secure$/);

  // Another site may not post the form for the operator.
  expect((await login(ADMIN_KEY, { "sec-fetch-site": "cross-site" })).status).toBe(403);
});

it("renders ledger text as text", async () => {
  const hex = (n: number) => `0x${randomBytes(n).toString("hex")}`;
  const nonce = hex(32);
  const [row] = await fac.sql<{ id: string }[]>`
    INSERT INTO settlements (chain_id, asset, payer, nonce, pay_to, value, valid_after, valid_before, signature,
      payload_sha256, x402_version, request_network, scheme, method, payment_key, state, error_reason, error_message)
    VALUES (84532, ${hex(20)}, ${hex(20)}, ${nonce}, ${hex(20)}, 1, 0, 1, '0x', 'x', 2, 'eip155:84532', 'exact', 'eip3009',
      ${`test:${nonce}`}, 'failed', ${HOSTILE}, ${HOSTILE})
    RETURNING id`;
  const { context, page, problems } = await loggedIn();
  for (const path of [`/dashboard/settlements/${row!.id}`, "/dashboard"]) {
    await page.goto(`${fac.url}${path}`);
    expect(await page.locator("script").count()).toBe(0);
    expect(await page.locator("main b").count()).toBe(0);
    expect(await page.locator("main").textContent()).toContain(HOSTILE);
    expect(await page.evaluate(() => (window as { __owned?: number }).__owned)).toBeUndefined();
  }
  expect(problems).toEqual([]);
  await context.close();
});

it("serves the page's figures as admin JSON, and refuses them without the key", async () => {
  const admin = { authorization: `Bearer ${ADMIN_KEY}` };
  for (const path of ["/relayers", "/stats", "/stats?window=24h", "/webhooks/failing-deliveries"]) {
    expect((await get(path)).status, path).toBe(401);
    expect((await get(path, { authorization: "Bearer wrong-key-0123456789" })).status, path).toBe(401);
  }

  const relayers = await (await get("/relayers", admin)).json();
  expect(relayers.items).toContainEqual(
    expect.objectContaining({
      network: "eip155:84532",
      address: relayer,
      leased: true,
      inFlight: 0,
      nonceLag: "0",
      balanceEth: expect.stringMatching(/^[0-9]+(\.[0-9]+)?$/),
      error: null,
    }),
  );
  const lane = relayers.items.find((r: { address: string }) => r.address === relayer);
  expect(lane.chainPendingNonce).toBe(lane.nextNonce);

  const hour = await (await get("/stats?window=1h", admin)).json();
  expect(hour).toMatchObject({ window: "1h", queue: { error: null } });
  expect(hour.succeeded).toBeGreaterThanOrEqual(1);
  expect(hour.byState.confirmed).toBe(hour.succeeded);
  expect(hour.queue.jobs).toEqual(expect.objectContaining({ waiting: expect.any(Number), active: expect.any(Number) }));
  expect((await (await get("/stats?window=24h", admin)).json()).window).toBe("24h");
  const bad = await get("/stats?window=7d", admin);
  expect(bad.status).toBe(400);
  expect(await bad.json()).toMatchObject({ error: "invalid_request", field: "window" });
  expect((await get("/relayers?network=x", admin)).status).toBe(400);

  type Endpoint = { url: string; disabledAt: string | null; failingDeliveries: { state: string; attempts: number }[] };
  const [endpoint] = await until(
    async (): Promise<Endpoint[]> => (await (await get("/webhooks/failing-deliveries", admin)).json()).items,
    (items) => (items[0]?.failingDeliveries.length ?? 0) > 0,
    "a failing delivery",
  );
  expect(endpoint).toMatchObject({ url: webhookUrl, disabledAt: null });
  expect(endpoint!.failingDeliveries[0]!.state).toBe("pending");
  expect(endpoint!.failingDeliveries[0]!.attempts).toBeGreaterThan(0);
});

it("lives under BASE_PATH: links, form targets, redirects and the cookie's path", async () => {
  const behind = await startFacilitator(chain, { BASE_PATH: "/fac" }, { worker: false });
  try {
    const form = await fetch(`${behind.url}/fac/dashboard`);
    expect(form.status).toBe(401);
    const body = await form.text();
    expect(body).toContain('href="/fac/dashboard/style.css"');
    expect(body).toContain('action="/fac/dashboard/login"');
    const css = await fetch(`${behind.url}/fac/dashboard/style.css`);
    expect(css.headers.get("content-type")).toMatch(/^text\/css/);
    expect(css.headers.get("content-security-policy")).toBe(CSP);

    const res = await fetch(`${behind.url}/fac/dashboard/login`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ key: ADMIN_KEY, next: "/fac/dashboard/search?q=0x" }).toString(),
      redirect: "manual",
    });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/fac/dashboard/search?q=0x");
    const cookie = res.headers.get("set-cookie")!;
    expect(cookie).toContain("; Path=/fac/dashboard;");
    const page = await fetch(`${behind.url}/fac/dashboard`, { headers: { cookie: cookie.split(";")[0]! } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("<h1>Overview</h1>");
    expect((await fetch(`${behind.url}/dashboard`)).status).toBe(404);

    // After the login only a path of the dashboard itself, never another site.
    for (const next of ["https://evil.example/", "//evil.example/fac/dashboard", "/fac/dashboardx", "/other"]) {
      const away = await fetch(`${behind.url}/fac/dashboard/login`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ key: ADMIN_KEY, next }).toString(),
        redirect: "manual",
      });
      expect(away.headers.get("location"), next).toBe("/fac/dashboard");
    }
  } finally {
    await behind.close();
  }
});
