// The Bazaar catalog end to end: payments declaring the `bazaar` extension settle through the
// real api and worker (anvil, Postgres, Redis), the catalog writer records them after the answer,
// and /discovery/* serves them. Only a payment that settled is catalogued: a verify moves no
// money, and the resource words are not signed. Hostile declarations, merchants sharing a URL,
// operator controls, staleness, DISCOVERY=0 and the listing parameters are driven over HTTP and
// checked both as served and as stored.
import { randomBytes } from "node:crypto";
import { HTTPFacilitatorClient } from "@x402/core/server";
import { withBazaar } from "@x402/extensions/bazaar";
import type { Address, LocalAccount } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ANVIL_KEYS } from "../src/devnet/anvil.js";
import { deployUsdc, mintUsdc, type UsdcDeployment } from "../src/devnet/usdc.js";
import { declared, WEATHER_DECLARATION as WEATHER } from "./support/bazaar-declarations.js";
import { startTestChain, type TestChain } from "./support/chain.js";
import { ADMIN_KEY, startFacilitator, type TestFacilitator } from "./support/facilitator.js";
import { baseSepoliaFile } from "./support/networks-file.js";
import { now, signAuthorization, v1Body, v2Body } from "./support/payments.js";

const NETWORK = "eip155:84532";
const PRICE = 1_000n;
const TX_HASH = /^0x[0-9a-f]{64}$/;
// Control (Cc), format (Cf: bidi overrides and isolates, zero widths, BOM) and line/paragraph separators.
const INVISIBLE = /[\p{Cc}\p{Cf}\u2028\u2029]/u;
// JSON.stringify writes C0 controls and lone surrogates as escapes, which INVISIBLE cannot see.
const ESCAPED_INVISIBLE = /\\u00[01][0-9a-f]|\\u007f|\\ud[89a-f][0-9a-f]{2}|\\[nrtbf]/i;
const MARKUP = /[<>]/;

let chain: TestChain;
/** A second EIP-3009 token on the same network: a resource paid in two assets. */
let usdc2: UsdcDeployment;
let networksFile: string;
let fac: TestFacilitator;
const buyer = privateKeyToAccount(generatePrivateKey());

beforeAll(async () => {
  chain = await startTestChain();
  usdc2 = await deployUsdc(chain.rpcUrl, { symbol: "USDC2" });
  await chain.fund(buyer.address, "10");
  await mintUsdc(chain.rpcUrl, usdc2, buyer.address, 10_000_000n);
  const asset = (address: Address) => ({ address, name: "USDC", version: "2", decimals: 6, symbol: "USDC" });
  networksFile = baseSepoliaFile(chain, { assets: [asset(chain.usdc.address), asset(usdc2.address)] });
  // With its worker: only a settled payment is catalogued.
  fac = await startFacilitator(chain, { NETWORKS_FILE: networksFile });
});

afterAll(async () => {
  await fac?.close();
  await chain?.stop();
});

/**
 * Another facilitator on this chain, for a test's own settings. Its worker sends from a relayer
 * of its own (anvil account `relayer`), so the shared facilitator's relayer nonces stay its own.
 */
async function withFacilitator(relayer: number, extra: Record<string, string>, run: (f: TestFacilitator) => Promise<void>) {
  const f = await startFacilitator(chain, { NETWORKS_FILE: networksFile, RELAYER_PRIVATE_KEY: ANVIL_KEYS[relayer]!, ...extra });
  try {
    await run(f);
  } finally {
    await f.close();
  }
}

// --- payments ---------------------------------------------------------------------------------

const freshAddress = (): Address => privateKeyToAccount(generatePrivateKey()).address;
const unique = () => randomBytes(4).toString("hex");

interface PaymentOptions {
  asset?: Address;
  payer?: LocalAccount;
  validBefore?: bigint;
}

/** A signed v2 payment of PRICE to payTo (the file's funded buyer unless another payer is given). */
async function payment(payTo: Address, o: PaymentOptions = {}) {
  const asset = o.asset ?? chain.usdc.address;
  const signed = await signAuthorization({
    payer: o.payer ?? buyer,
    payTo,
    value: PRICE,
    asset,
    chainId: chain.chainId,
    validBefore: o.validBefore,
  });
  return v2Body({ ...signed, asset, payTo, amount: PRICE, network: NETWORK });
}

/** The payment declaring `bazaar` for `resource` (neither is signed: the wire parser passes them along). */
function declaring<B extends { paymentPayload: object }>(body: B, resource: Record<string, unknown>, bazaar: unknown = WEATHER) {
  return { ...body, paymentPayload: { ...body.paymentPayload, resource, extensions: { bazaar } } };
}

/** A fresh v2 payment to payTo declaring `bazaar` for `resource`. */
async function declaringPayment(payTo: Address, resource: Record<string, unknown>, bazaar: unknown = WEATHER, o: PaymentOptions = {}) {
  return declaring(await payment(payTo, o), resource, bazaar);
}

/** A signed v1 payment of PRICE to payTo, its requirements carrying the resource, its words and an outputSchema. */
async function v1Payment(payTo: Address, requirements: { resource: string; description: string; outputSchema: unknown }) {
  const signed = await signAuthorization({ payer: buyer, payTo, value: PRICE, asset: chain.usdc.address, chainId: chain.chainId });
  const body = v1Body({ ...signed, asset: chain.usdc.address, payTo, amount: PRICE, network: "base-sepolia" });
  return { ...body, paymentRequirements: { ...body.paymentRequirements, ...requirements } };
}

// --- http -------------------------------------------------------------------------------------

async function call(f: TestFacilitator, method: string, path: string, o: { body?: unknown; key?: string } = {}) {
  const headers: Record<string, string> = {};
  if (o.key) headers.authorization = `Bearer ${o.key}`;
  if (o.body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${f.url}${path}`, { method, headers, body: o.body === undefined ? undefined : JSON.stringify(o.body) });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

const verify = (f: TestFacilitator, body: unknown) => call(f, "POST", "/verify", { body });

/** Verified, isValid: true, and nothing more: no money moves. */
async function verified(f: TestFacilitator, body: unknown) {
  const res = await verify(f, body);
  expect(res.json, JSON.stringify(res.json)).toMatchObject({ isValid: true });
}

/** Settled: a real transfer on anvil, mined, answered with its hash. */
async function settled(f: TestFacilitator, body: unknown) {
  const res = await f.settle(body);
  expect(res.json, JSON.stringify(res.json)).toMatchObject({ success: true, transaction: expect.stringMatching(TX_HASH) });
}

/** A fresh payment to payTo declaring `bazaar` for `resource`, settled at f. */
async function paid(
  f: TestFacilitator,
  payTo: Address,
  resource: Record<string, unknown>,
  bazaar: unknown = WEATHER,
  o: PaymentOptions = {},
) {
  await settled(f, await declaringPayment(payTo, resource, bazaar, o));
}

const query = (params: Record<string, string>) => new URLSearchParams(params).toString();
const listed = (f: TestFacilitator, params: Record<string, string>) => call(f, "GET", `/discovery/resources?${query(params)}`);
const searched = (f: TestFacilitator, params: Record<string, string>) => call(f, "GET", `/discovery/search?${query(params)}`);
const operatorList = (f: TestFacilitator, payTo: Address) =>
  call(f, "GET", `/discovery/admin/resources?payTo=${payTo}`, { key: ADMIN_KEY });
/** An operator call on the shared facilitator; key null sends none. */
const operate = (method: string, path: string, key: string | null = ADMIN_KEY) =>
  call(fac, method, `/discovery/admin/resources${path}`, { key: key ?? undefined });

/** The one entry served for payTo (the public listing). */
async function servedFor(f: TestFacilitator, payTo: Address) {
  const res = await listed(f, { payTo });
  expect(res.status).toBe(200);
  expect(res.json.items).toHaveLength(1);
  return res.json.items[0];
}

/** The entries served for payTo, by their resource's path. */
async function servedByPath(f: TestFacilitator, payTo: Address): Promise<Record<string, Record<string, any>>> {
  const items: { resource: string }[] = (await listed(f, { payTo })).json.items;
  return Object.fromEntries(items.map((i) => [new URL(i.resource).pathname, i]));
}

// --- the database -----------------------------------------------------------------------------

const rowsOf = (f: TestFacilitator, payTo: Address) =>
  f.sql`select * from discovery_resources where pay_to = ${payTo.toLowerCase()} order by id`.then((rows) => [...rows]);

/**
 * Waits for the writer (it flushes every 250 ms) to have stored n entries for payTo. A loop of
 * its own rather than expect.poll, which vitest allows only inside a test, not in a hook.
 */
async function catalogued(f: TestFacilitator, payTo: Address, n = 1) {
  const deadline = Date.now() + 5_000;
  let rows = await rowsOf(f, payTo);
  while (rows.length !== n && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    rows = await rowsOf(f, payTo);
  }
  expect(rows, `entries for ${payTo}`).toHaveLength(n);
  return rows;
}

/**
 * Settles `good` for payTo after what a test expects not to be catalogued, and answers payTo's
 * entries once good's is stored. The writer takes what it recorded in order and writes one batch
 * at a time, so by then everything before it has been catalogued or dropped.
 */
async function onlyGoodOne(f: TestFacilitator, payTo: Address, good: Record<string, unknown>) {
  await paid(f, payTo, good);
  const deadline = Date.now() + 5_000;
  let rows = await rowsOf(f, payTo);
  while (!rows.some((r) => r.resource === good.url) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    rows = await rowsOf(f, payTo);
  }
  return rows;
}

/** Waits until everything recorded so far has been through the writer (a settled entry for a fresh merchant is stored). */
async function drained(f: TestFacilitator) {
  const payTo = freshAddress();
  await paid(f, payTo, { url: `https://drain-${unique()}.example.com/x`, description: "drain" });
  await catalogued(f, payTo);
}

/** Nothing raw in a served item or a stored row: no markup, no control or bidi character, no script URL. */
function expectClean(value: unknown) {
  const text = JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
  expect(text).not.toMatch(MARKUP);
  expect(text).not.toMatch(INVISIBLE);
  expect(text).not.toMatch(ESCAPED_INVISIBLE);
  expect(text).not.toMatch(/javascript:/i);
}

// --- 1. hostile input -------------------------------------------------------------------------

describe("hostile declarations are stored sanitized or refused, never served raw", () => {
  it("serves a description with HTML as plain text, without a tag", async () => {
    const payTo = freshAddress();
    const description = "<script>alert(1)</script><b>Weather</b> now";
    await paid(fac, payTo, { url: `https://wx-${unique()}.example.com/now`, description });
    const [row] = await catalogued(fac, payTo);
    const item = await servedFor(fac, payTo);
    expect(item.description).not.toMatch(MARKUP);
    expect(item.description).not.toMatch(/script/i);
    expect(item.description).toContain("Weather now");
    expect(row!.description).toBe(item.description);
    expectClean(item);
    expectClean(row);
    const found = await searched(fac, { query: "weather", payTo });
    expect(found.json.resources.map((r: { description: string }) => r.description)).toEqual([item.description]);
  });

  it("cuts an oversize description to 1,000 characters", async () => {
    const payTo = freshAddress();
    await paid(fac, payTo, { url: `https://long-${unique()}.example.com/`, description: "w".repeat(6_000) });
    await catalogued(fac, payTo);
    expect((await servedFor(fac, payTo)).description).toBe("w".repeat(1_000));
    const [stored] = await fac.sql`select char_length(description) as n from discovery_resources where pay_to = ${payTo.toLowerCase()}`;
    expect(stored!.n).toBe(1_000);
  });

  it("does not catalogue a resource URL that is not http(s)", async () => {
    const payTo = freshAddress();
    for (const url of [
      "javascript:alert(1)",
      "JaVaScRiPt:alert(document.cookie)",
      "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
      "file:///etc/passwd",
      "ftp://files.example.com/x",
      "//no-scheme.example.com/x",
    ]) {
      await paid(fac, payTo, { url, description: "Weather" });
    }
    const good = `https://good-${unique()}.example.com/x`;
    expect((await onlyGoodOne(fac, payTo, { url: good, description: "Weather" })).map((r) => r.resource)).toEqual([good]);
    expect((await operatorList(fac, payTo)).json.items.map((i: { resource: string }) => i.resource)).toEqual([good]);
  });

  it("drops an icon URL that is not http(s), keeping the entry and a good icon", async () => {
    const payTo = freshAddress();
    const site = `https://icons-${unique()}.example.com`;
    await paid(fac, payTo, { url: `${site}/bad`, description: "Bad icon", iconUrl: "javascript:alert(1)" });
    await paid(fac, payTo, { url: `${site}/data`, description: "Data icon", iconUrl: "data:image/svg+xml,<svg onload=alert(1)>" });
    await paid(fac, payTo, { url: `${site}/good`, description: "Good icon", iconUrl: "https://cdn.example.com/icon.png" });
    const rows = await catalogued(fac, payTo, 3);
    const served = await servedByPath(fac, payTo);
    expect([served["/bad"]!.iconUrl, served["/data"]!.iconUrl, served["/good"]!.iconUrl]).toEqual([
      undefined,
      undefined,
      "https://cdn.example.com/icon.png",
    ]);
    expect(rows.map((r) => r.icon_url).sort()).toEqual(["https://cdn.example.com/icon.png", null, null]);
    for (const row of rows) expectClean(row);
  });

  describe("tags", () => {
    const payTo = freshAddress();
    const site = `https://tags-${unique()}.example.com`;
    // Each kind the official sanitizer passes (printable ASCII, at most 32 characters); only ok<i> is safe in HTML.
    const tags = Array.from({ length: 1_000 }, (_, i) => [`<b>${i}</b>`, `"q${i}"`, `'s${i}'`, `ok${i}`][i % 4]);
    let served: Awaited<ReturnType<typeof servedByPath>>;
    let stored: Record<string, Record<string, unknown>>;

    beforeAll(async () => {
      await paid(fac, payTo, { url: `${site}/many`, description: "Tagged weather", tags, serviceName: "<b>Evil</b>" });
      const hostileOnly = ["<b>x</b>", '"q"', "'s'", "`t`", "a&b", "<i>y</i>"];
      await paid(fac, payTo, { url: `${site}/hostile`, description: "Hostile tags", tags: hostileOnly });
      const rows = await catalogued(fac, payTo, 2);
      served = await servedByPath(fac, payTo);
      stored = Object.fromEntries(rows.map((r) => [new URL(r.resource).pathname, r]));
    });

    it("keeps at most 5 of a thousand, none with < > quotes or &, and no hostile service name; stores none when none is left", () => {
      const kept: string[] = served["/many"]!.tags;
      expect(kept.length).toBeGreaterThan(0);
      expect(kept.length).toBeLessThanOrEqual(5);
      for (const tag of kept) expect(tag).toMatch(/^ok\d+$/);
      expect(stored["/many"]).toMatchObject({ tags: kept, service_name: null });
      expect(served["/many"]!.serviceName).toBeUndefined();
      expect(served["/hostile"]!).not.toHaveProperty("tags");
      expect(stored["/hostile"]).toMatchObject({ tags: null });
      for (const value of [...Object.values(served), ...Object.values(stored)]) expectClean(value);
    });

    it("drops the unsafe ones before the five are chosen: the first five safe ones are kept", () => {
      const firstSafe = ["ok3", "ok7", "ok11", "ok15", "ok19"];
      expect(served["/many"]!.tags).toEqual(firstSafe);
      expect(stored["/many"]!.tags).toEqual(firstSafe);
    });
  });

  it("removes control and bidi characters from the description and the info", async () => {
    const payTo = freshAddress();
    const bazaar = declared({
      input: { city: "Pa\u0000ris\u202e" },
      inputSchema: { properties: { city: { type: "string" } } },
      output: { example: { "fore\u0007cast": "sun\u001b[31mny\u200b", note: "line\u2028break" } },
    });
    const description = "Sunny\u0000 and\u0007 warm\u202e\u2028 today\u200b\u2066!\u0085\u007f";
    await paid(fac, payTo, { url: `https://ctl-${unique()}.example.com/`, description }, bazaar);
    const [row] = await catalogued(fac, payTo);
    const item = await servedFor(fac, payTo);
    expect(item.description.split(/\s+/)).toEqual(expect.arrayContaining(["Sunny", "and", "warm"]));
    expectClean(item);
    expectClean(row);
  });

  // The official isValidIconUrl refuses only ASCII control characters: a right-to-left override
  // would be served ("exe.png" shown as "gnp.exe"). What is kept is served as the URL parser
  // writes it back, anything odd in it percent-encoded.
  it("drops an icon URL with a bidi control, and serves a kept one percent-encoded", async () => {
    const payTo = freshAddress();
    const site = `https://bidi-${unique()}.example.com`;
    await paid(fac, payTo, { url: `${site}/bidi`, description: "Bidi icon", iconUrl: "https://cdn.example.com/\u202egnp.exe" });
    await paid(fac, payTo, { url: `${site}/accents`, description: "Accented icon", iconUrl: "https://CDN.example.com/météo.png" });
    const rows = await catalogued(fac, payTo, 2);
    const served = await servedByPath(fac, payTo);
    expect(served["/bidi"]!).not.toHaveProperty("iconUrl");
    expect(served["/accents"]!.iconUrl).toBe("https://cdn.example.com/m%C3%A9t%C3%A9o.png");
    expect(rows.map((r) => r.icon_url).sort()).toEqual(["https://cdn.example.com/m%C3%A9t%C3%A9o.png", null]);
  });

  it("refuses a declaration over 64 KB and catalogues nothing", async () => {
    const payTo = freshAddress();
    const huge = declared({ input: { city: "Paris" }, output: { example: { padding: "x".repeat(70_000) } } });
    const res = await fac.settle(
      await declaringPayment(payTo, { url: `https://huge-${unique()}.example.com/`, description: "Huge" }, huge),
    );
    // The api's body limit (16 KB) refuses it before the catalog could.
    expect(res).toMatchObject({ status: 400, json: { error: "body_too_large" } });
    const hugeSchema = { info: WEATHER.info, schema: { ...WEATHER.schema, description: "y".repeat(70_000) } };
    const hugeRes = await fac.settle(await declaringPayment(payTo, { url: `https://huge-${unique()}.example.com/` }, hugeSchema));
    expect(hugeRes).toMatchObject({ status: 400, json: { error: "body_too_large" } });
    const good = `https://small-${unique()}.example.com/`;
    expect((await onlyGoodOne(fac, payTo, { url: good, description: "Small" })).map((r) => r.resource)).toEqual([good]);
  });

  it("serves the strings and keys inside info without tags", async () => {
    const payTo = freshAddress();
    const bazaar = declared({
      input: { city: "<b>Paris</b>" },
      inputSchema: { properties: { city: { type: "string" } } },
      output: { example: { "<i>forecast</i>": "<img src=x onerror=alert(1)>Sunny", links: ["<a href='javascript:alert(1)'>more</a>"] } },
    });
    await paid(fac, payTo, { url: `https://info-${unique()}.example.com/`, description: "Info" }, bazaar);
    const [row] = await catalogued(fac, payTo);
    const item = await servedFor(fac, payTo);
    const info = item.extensions.bazaar.info;
    expect(info.input.queryParams).toEqual({ city: "Paris" });
    expect(info.output.example).toEqual({ forecast: "Sunny", links: ["more"] });
    expect((row!.bazaar as { info: unknown }).info).toEqual(info);
    expectClean(item);
    expectClean(row);
  });

  it("catalogues a v1 outputSchema as plain text, and refuses its javascript: resource", async () => {
    const payTo = freshAddress();
    const v1 = (resource: string) =>
      v1Payment(payTo, {
        resource,
        description: "<script>alert(1)</script><b>V1</b> weather",
        outputSchema: {
          input: { type: "http", method: "GET", queryParams: { city: "<i>Paris</i>" } },
          output: { forecast: "<b>sunny</b>" },
        },
      });
    await settled(fac, await v1("javascript:alert(1)"));
    const url = `https://v1-${unique()}.example.com/weather`;
    await settled(fac, await v1(url));
    // Recorded after the javascript: one: once it is stored, the other has been through the writer.
    const [row] = await catalogued(fac, payTo);
    const item = await servedFor(fac, payTo);
    expect(item).toMatchObject({ resource: url, x402Version: 1, type: "http" });
    expect(item.description).toContain("V1 weather");
    expect(item.extensions.bazaar.info.input.queryParams).toEqual({ city: "Paris" });
    expectClean(item);
    expectClean(row);
  });

  // A lone surrogate survives JSON.parse; written back by JSON.stringify as "\ud800", Postgres'
  // jsonb input refuses it. Kept, it would fail the writer's whole batch insert.
  it("one merchant's lone surrogates cost no merchant its entry", async () => {
    const hostile = freshAddress();
    const innocent = freshAddress();
    const bazaar = declared({ input: { city: "Paris\ud800" }, inputSchema: { properties: { city: { type: "string" } } } });
    // Settled together, so the writer most likely takes both in one batch.
    const bodies = [
      await declaringPayment(hostile, { url: `https://sur-${unique()}.example.com/`, description: "Surrogate \udc00" }, bazaar),
      await declaringPayment(innocent, { url: `https://inn-${unique()}.example.com/`, description: "Innocent weather" }),
    ];
    await Promise.all(bodies.map((body) => settled(fac, body)));
    await catalogued(fac, innocent);
    const [row] = await catalogued(fac, hostile);
    expect(row).toMatchObject({ description: "Surrogate" });
    expect((await servedFor(fac, hostile)).extensions.bazaar.info.input.queryParams).toEqual({ city: "Paris" });
    expectClean(row);
  });
});

// --- 2. merchants sharing a URL ---------------------------------------------------------------

describe("a resource URL two merchants declare", () => {
  it("is two entries, each with its own payTo and words; the first is left as it was", async () => {
    const [first, second] = [freshAddress(), freshAddress()];
    const url = `https://shared-${unique()}.example.com/weather`;
    await paid(fac, first, { url, description: "First merchant's weather" });
    const [before] = await catalogued(fac, first);
    const other = declared({ input: { town: "Lyon" }, inputSchema: { properties: { town: { type: "string" } } } });
    await paid(fac, second, { url, description: "Second merchant's weather", serviceName: "Impostor" }, other);
    await catalogued(fac, second);

    const both = await fac.sql`select pay_to, description from discovery_resources where resource = ${url} order by id`;
    expect([...both]).toEqual([
      { pay_to: first.toLowerCase(), description: "First merchant's weather" },
      { pay_to: second.toLowerCase(), description: "Second merchant's weather" },
    ]);
    const [after] = await rowsOf(fac, first);
    expect(after).toEqual(before);

    expect(await servedFor(fac, first)).toMatchObject({
      resource: url,
      description: "First merchant's weather",
      extensions: { bazaar: { info: WEATHER.info } },
    });
    expect((await servedFor(fac, first)).serviceName).toBeUndefined();
    expect(await servedFor(fac, second)).toMatchObject({
      resource: url,
      description: "Second merchant's weather",
      serviceName: "Impostor",
    });
    const payTos = (await operatorList(fac, first)).json.items.map((i: { payTo: string }) => i.payTo);
    expect(payTos).toEqual([first.toLowerCase()]);
  });
});

// --- 3. the same merchant again ---------------------------------------------------------------

describe("the same merchant paying again", () => {
  it("updates lastUpdated and merges accepts, in one entry", async () => {
    const payTo = freshAddress();
    const url = `https://again-${unique()}.example.com/weather`;
    await paid(fac, payTo, { url, description: "Weather" });
    const [firstRow] = await catalogued(fac, payTo);
    const first = await servedFor(fac, payTo);
    expect(first.accepts.map((a: { asset: string }) => a.asset)).toEqual([chain.usdc.address]);

    // paid in the second asset, with updated words
    await paid(fac, payTo, { url, description: "Weather, updated" }, WEATHER, { asset: usdc2.address });
    await expect.poll(async () => (await servedFor(fac, payTo)).accepts.length, { timeout: 5_000, interval: 50 }).toBe(2);
    const second = await servedFor(fac, payTo);
    expect(second.accepts.map((a: { asset: string }) => a.asset).sort()).toEqual([chain.usdc.address, usdc2.address].sort());
    expect(second.accepts).toEqual(
      expect.arrayContaining([expect.objectContaining({ scheme: "exact", network: NETWORK, amount: PRICE.toString() })]),
    );
    expect(second.description).toBe("Weather, updated");
    expect(Date.parse(second.lastUpdated)).toBeGreaterThan(Date.parse(first.lastUpdated));

    // paid again exactly as the first time: still one entry, both assets, later again
    await paid(fac, payTo, { url, description: "Weather, updated" });
    await expect
      .poll(async () => Date.parse((await servedFor(fac, payTo)).lastUpdated), { timeout: 5_000, interval: 50 })
      .toBeGreaterThan(Date.parse(second.lastUpdated));
    expect((await servedFor(fac, payTo)).accepts).toHaveLength(2);
    const rows = await rowsOf(fac, payTo);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.id).toBe(firstRow!.id);
    expect(rows[0]!.first_seen).toEqual(firstRow!.first_seen);
  });
});

describe("a v1 and a v2 payment for the same resource", () => {
  // v1 and v2 requirements have different shapes: one entry holding both would be served with one
  // x402Version and the other version's requirements in accepts.
  it("are two entries, each served with its own version's requirements", async () => {
    const payTo = freshAddress();
    const url = `https://mixed-${unique()}.example.com/weather`;
    await settled(
      fac,
      await v1Payment(payTo, { resource: url, description: "Weather v1", outputSchema: { input: { type: "http", method: "GET" } } }),
    );
    await paid(fac, payTo, { url, description: "Weather v2" });
    await catalogued(fac, payTo, 2);
    const items: { resource: string; x402Version: number; description: string; accepts: Record<string, unknown>[] }[] = (
      await listed(fac, { payTo })
    ).json.items;
    const byVersion = Object.fromEntries(items.map((i) => [i.x402Version, i]));
    expect(Object.keys(byVersion)).toEqual(["1", "2"]);
    expect(byVersion[1]).toMatchObject({ resource: url, description: "Weather v1" });
    expect(byVersion[1]!.accepts).toEqual([
      expect.objectContaining({ scheme: "exact", network: "base-sepolia", maxAmountRequired: PRICE.toString() }),
    ]);
    expect(byVersion[1]!.accepts[0]).not.toHaveProperty("amount");
    expect(byVersion[2]).toMatchObject({ resource: url, description: "Weather v2" });
    expect(byVersion[2]!.accepts).toEqual([expect.objectContaining({ scheme: "exact", network: NETWORK, amount: PRICE.toString() })]);
    expect(byVersion[2]!.accepts[0]).not.toHaveProperty("maxAmountRequired");
  });
});

// --- 4. operator controls ---------------------------------------------------------------------

describe("operator controls", () => {
  it("hide, unhide and delete an entry; hidden stays hidden when paid again", async () => {
    const payTo = freshAddress();
    const url = `https://ops-${unique()}.example.com/tides`;
    const pay = () => paid(fac, payTo, { url, description: "Tide tables for sailors" });
    const publicCount = async () => ({
      listed: (await listed(fac, { payTo })).json.items.length,
      searched: (await searched(fac, { query: "tide", payTo })).json.resources.length,
    });
    await pay();
    const [row] = await catalogued(fac, payTo);

    const list = await operatorList(fac, payTo);
    expect(list.status).toBe(200);
    expect(list.json.items).toEqual([
      expect.objectContaining({ id: String(row!.id), payTo: payTo.toLowerCase(), resource: url, hidden: false }),
    ]);
    const id: string = list.json.items[0].id;
    expect(await publicCount()).toEqual({ listed: 1, searched: 1 });

    const hidden = await operate("POST", `/${id}/hide`);
    expect(hidden).toMatchObject({ status: 200, json: { id, hidden: true } });
    expect(await publicCount()).toEqual({ listed: 0, searched: 0 });
    const whileHidden = (await operatorList(fac, payTo)).json.items;
    expect(whileHidden).toEqual([expect.objectContaining({ id, hidden: true })]);

    // paid again: the entry is seen again (lastUpdated moves) but stays hidden
    await pay();
    await expect
      .poll(async () => Date.parse((await operatorList(fac, payTo)).json.items[0].lastUpdated), { timeout: 5_000, interval: 50 })
      .toBeGreaterThan(Date.parse(whileHidden[0].lastUpdated));
    expect((await operatorList(fac, payTo)).json.items).toEqual([expect.objectContaining({ id, hidden: true })]);
    expect(await publicCount()).toEqual({ listed: 0, searched: 0 });

    expect(await operate("POST", `/${id}/unhide`)).toMatchObject({ status: 200, json: { id, hidden: false } });
    expect(await publicCount()).toEqual({ listed: 1, searched: 1 });

    expect((await operate("DELETE", `/${id}`)).status).toBe(204);
    expect(await publicCount()).toEqual({ listed: 0, searched: 0 });
    expect((await operatorList(fac, payTo)).json.items).toEqual([]);
    expect(await rowsOf(fac, payTo)).toEqual([]);
    expect(await operate("DELETE", `/${id}`)).toMatchObject({ status: 404, json: { error: "not_found" } });
    expect((await operate("POST", `/${id}/hide`)).status).toBe(404);
    expect((await operate("POST", `/${id}/unhide`)).status).toBe(404);
  });

  it("answers 400 naming the id for an id that is not one", async () => {
    for (const id of ["0", "abc", "-1", "1.5", "1e3", "0x10", "9".repeat(19), "%20", "1;DROP TABLE discovery_resources"]) {
      const path = `/${encodeURIComponent(id)}`;
      for (const [method, suffix] of [
        ["POST", "/hide"],
        ["POST", "/unhide"],
        ["DELETE", ""],
      ] as const) {
        expect(await operate(method, `${path}${suffix}`), `${method} ${id}${suffix}`).toMatchObject({ status: 400, json: { field: "id" } });
      }
    }
    expect((await operatorList(fac, "0x123" as Address)).status).toBe(400);
  });

  it("answers 401 without the admin key, and changes nothing", async () => {
    const payTo = freshAddress();
    await paid(fac, payTo, { url: `https://auth-${unique()}.example.com/`, description: "Guarded" });
    const [row] = await catalogued(fac, payTo);
    for (const key of [null, "wrong-key-0123456789abcdef"]) {
      expect((await operate("GET", `?payTo=${payTo}`, key)).status).toBe(401);
      expect((await operate("POST", `/${row!.id}/hide`, key)).status).toBe(401);
      expect((await operate("POST", `/${row!.id}/unhide`, key)).status).toBe(401);
      expect((await operate("DELETE", `/${row!.id}`, key)).status).toBe(401);
    }
    expect(await rowsOf(fac, payTo)).toEqual([row]);
  });
});

// --- 5. staleness -----------------------------------------------------------------------------

describe("entries not seen for DISCOVERY_MAX_AGE_DAYS", () => {
  it("drop out of the listings (default 30 days) but stay in the operator's list, and come back when paid", async () => {
    const payTo = freshAddress();
    const url = `https://stale-${unique()}.example.com/almanac`;
    const pay = () => paid(fac, payTo, { url, description: "Old almanac" });
    await pay();
    await catalogued(fac, payTo);
    await fac.sql`update discovery_resources set last_seen = now() - interval '31 days' where pay_to = ${payTo.toLowerCase()}`;

    expect((await listed(fac, { payTo })).json).toMatchObject({ items: [], pagination: { total: 0 } });
    expect((await searched(fac, { query: "almanac", payTo })).json.resources).toEqual([]);
    expect((await operatorList(fac, payTo)).json.items).toEqual([expect.objectContaining({ resource: url, hidden: false })]);

    await pay();
    await expect.poll(async () => (await listed(fac, { payTo })).json.items.length, { timeout: 5_000, interval: 50 }).toBe(1);
  });

  it("follow the configured age", async () => {
    await withFacilitator(1, { DISCOVERY_MAX_AGE_DAYS: "3" }, async (f) => {
      const [recent, old] = [freshAddress(), freshAddress()];
      for (const payTo of [recent, old]) {
        await paid(f, payTo, { url: `https://age-${unique()}.example.com/`, description: "Aged" });
        await catalogued(f, payTo);
      }
      await f.sql`update discovery_resources set last_seen = now() - interval '2 days' where pay_to = ${recent.toLowerCase()}`;
      await f.sql`update discovery_resources set last_seen = now() - interval '4 days' where pay_to = ${old.toLowerCase()}`;
      expect((await listed(f, { payTo: recent })).json.items).toHaveLength(1);
      expect((await listed(f, { payTo: old })).json.items).toHaveLength(0);
      expect((await operatorList(f, old)).json.items).toHaveLength(1);
    });
  });
});

// --- 6. DISCOVERY=0 ---------------------------------------------------------------------------

describe("DISCOVERY=0", () => {
  it("offers no bazaar, serves no catalog and writes nothing", async () => {
    expect((await call(fac, "GET", "/supported")).json.extensions).toEqual(expect.arrayContaining(["bazaar", "payment-identifier"]));

    await withFacilitator(2, { DISCOVERY: "0" }, async (f) => {
      const extensions: string[] = (await call(f, "GET", "/supported")).json.extensions;
      expect(extensions).toContain("payment-identifier");
      expect(extensions).not.toContain("bazaar");
      expect((await listed(f, {})).status).toBe(404);
      expect((await searched(f, { query: "weather" })).status).toBe(404);
      expect((await operatorList(f, freshAddress())).status).toBe(404);
      expect((await call(f, "POST", "/discovery/admin/resources/1/hide", { key: ADMIN_KEY })).status).toBe(404);

      await paid(f, freshAddress(), { url: `https://off-${unique()}.example.com/`, description: "Off" });
      // Nothing to wait for when nothing is written: two flush periods.
      await new Promise((r) => setTimeout(r, 600));
      const [counted] = await f.sql`select count(*)::int as n from discovery_resources`;
      expect(counted!.n).toBe(0);
    });
  });
});

// --- 7. listing parameters --------------------------------------------------------------------

describe("listing parameters", () => {
  const payTo = freshAddress();
  const site = `https://list-${unique()}.example.com`;
  const resources: string[] = [];

  beforeAll(async () => {
    for (const path of ["/a", "/b", "/c"]) {
      resources.push(`${site}${path}`);
      await paid(fac, payTo, { url: `${site}${path}`, description: `Weather report ${path}` });
    }
    const tool = declared({
      toolName: "forecast",
      description: "weather tool",
      inputSchema: { type: "object", properties: { city: { type: "string" } } },
    });
    resources.push(`${site}/mcp`);
    await paid(fac, payTo, { url: `${site}/mcp`, description: "Weather over MCP" }, tool);
    await catalogued(fac, payTo, 4);
  });

  const total = async (params: Record<string, string>) => {
    const res = await listed(fac, { payTo, ...params });
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    return res.json.pagination.total as number;
  };

  it("filters by type, payTo, scheme, network and extensions", async () => {
    expect(await total({})).toBe(4);
    expect(await total({ type: "http" })).toBe(3);
    expect(await total({ type: "mcp" })).toBe(1);
    expect((await listed(fac, { payTo, type: "mcp" })).json.items[0]).toMatchObject({ type: "mcp", resource: `${site}/mcp` });
    expect(await total({ scheme: "exact" })).toBe(4);
    expect(await total({ scheme: "upto" })).toBe(0);
    expect(await total({ network: NETWORK })).toBe(4);
    expect(await total({ network: "eip155:8453" })).toBe(0);
    expect(await total({ extensions: "bazaar" })).toBe(4);
    expect(await total({ extensions: "bazaar,sign-in-with-x" })).toBe(0);
    // payTo in another case is the same merchant
    expect((await listed(fac, { payTo: payTo.toUpperCase().replace("0X", "0x") })).json.pagination.total).toBe(4);
    expect((await listed(fac, { payTo: freshAddress() })).json).toMatchObject({ items: [], pagination: { total: 0 } });
  });

  it("pages with limit and offset, with the right total", async () => {
    const page = async (limit: number, offset: number) => (await listed(fac, { payTo, limit: String(limit), offset: String(offset) })).json;
    const [p1, p2, p3] = [await page(3, 0), await page(3, 3), await page(3, 4)];
    expect(p1.pagination).toEqual({ limit: 3, offset: 0, total: 4 });
    expect(p2.pagination).toEqual({ limit: 3, offset: 3, total: 4 });
    expect(p3.pagination).toEqual({ limit: 3, offset: 4, total: 4 });
    expect([p1.items.length, p2.items.length, p3.items.length]).toEqual([3, 1, 0]);
    const seen = [...p1.items, ...p2.items].map((i: { resource: string }) => i.resource);
    expect(seen.sort()).toEqual([...resources].sort());
    expect((await listed(fac, { payTo })).json.pagination).toEqual({ limit: 20, offset: 0, total: 4 });
  });

  it("searches with cursor pages", async () => {
    const first = await searched(fac, { query: "weather", payTo, limit: "3" });
    expect(first.status).toBe(200);
    expect(first.json).toMatchObject({ x402Version: 2, partialResults: false, pagination: { limit: 3 } });
    expect(first.json.resources).toHaveLength(3);
    const cursor = first.json.pagination.cursor;
    expect(typeof cursor).toBe("string");
    const second = await searched(fac, { query: "weather", payTo, limit: "3", cursor });
    expect(second.json.resources).toHaveLength(1);
    expect(second.json.pagination.cursor).toBeNull();
    const seen = [...first.json.resources, ...second.json.resources].map((i: { resource: string }) => i.resource);
    expect(seen.sort()).toEqual([...resources].sort());
    expect((await searched(fac, { query: "weather", payTo, type: "mcp" })).json.resources).toHaveLength(1);
    expect((await searched(fac, { query: "nonexistentword", payTo })).json.resources).toEqual([]);
    // websearch syntax and stop words are queries like any other, not errors
    for (const q of ["'", "\\", "a & | ! ( ) :*", "<script>", '"unclosed', "the", "\ud800"]) {
      expect((await searched(fac, { query: q, payTo })).status, q).toBe(200);
    }
  });

  it("is what the official bazaar client reads", async () => {
    const client = withBazaar(new HTTPFacilitatorClient({ url: fac.url }));
    const list = await client.extensions.bazaar.listResources({ payTo, type: "http", limit: 2 });
    expect(list.items).toHaveLength(2);
    expect(list.pagination).toEqual({ limit: 2, offset: 0, total: 3 });
    const found = await client.extensions.bazaar.search({ query: "weather", payTo });
    expect(found.resources.map((r) => r.resource).sort()).toEqual([...resources].sort());
  });

  it("answers 400 naming the field for a bad parameter", async () => {
    /** A cursor that is well-formed base64url but does not decode to a plain offset. */
    const cursorOf = (text: string): [string, Record<string, string>, string] => [
      "search",
      { query: "weather", cursor: Buffer.from(text).toString("base64url") },
      "cursor",
    ];
    const cases: [string, Record<string, string>, string][] = [
      ["resources", { limit: "0" }, "limit"],
      ["resources", { limit: "101" }, "limit"],
      ["resources", { limit: "ten" }, "limit"],
      ["resources", { limit: "1.5" }, "limit"],
      ["resources", { offset: "-1" }, "offset"],
      ["resources", { offset: "x" }, "offset"],
      ["resources", { type: "ftp" }, "type"],
      ["resources", { payTo: "0x123" }, "payTo"],
      ["resources", { payTo: "<script>" }, "payTo"],
      ["resources", { scheme: "" }, "scheme"],
      ["resources", { network: "n".repeat(65) }, "network"],
      ["search", {}, "query"],
      ["search", { query: "   " }, "query"],
      ["search", { query: "weather", cursor: "!!" }, "cursor"],
      ...["1.5", "-1", "01", "1e3", "0x1", " 1", "abc", "1234567890"].map(cursorOf),
      ["search", { query: "weather", limit: "0" }, "limit"],
      ["search", { query: "w".repeat(201) }, "query"],
    ];
    for (const [route, params, field] of cases) {
      const res = await call(fac, "GET", `/discovery/${route}?${query(params)}`);
      expect(res, `${route} ${JSON.stringify(params)}`).toMatchObject({ status: 400, json: { error: "invalid_request", field } });
    }
    const repeated = await call(fac, "GET", `/discovery/resources?type=http&type=mcp`);
    expect(repeated).toMatchObject({ status: 400, json: { field: "type" } });
  });

  // Postgres refuses a NUL byte in a text parameter ("invalid byte sequence for encoding UTF8: 0x00"):
  // passed through, a public, keyless request is a 500 and an error in the log.
  it("answers 400, not 500, for a NUL or another control character in a text parameter", async () => {
    for (const [route, params, field] of [
      ["search", { query: "a\u0000b" }, "query"],
      ["search", { query: "a\u0007b" }, "query"],
      ["resources", { scheme: "\u0000" }, "scheme"],
      ["resources", { network: "eip155:\u0000" }, "network"],
      ["resources", { network: "eip155:\u001b" }, "network"],
      ["search", { query: "weather", scheme: "ex\u0000act" }, "scheme"],
      ["resources", { extensions: "bazaar\u0000" }, "extensions"],
    ] as const) {
      const res = await call(fac, "GET", `/discovery/${route}?${query(params)}`);
      expect(res, `${route} ${JSON.stringify(params)}`).toMatchObject({ status: 400, json: { field } });
    }
  });

  it("answers 400 for an unknown parameter, naming it", async () => {
    for (const path of [
      "/discovery/resources?foo=1",
      "/discovery/resources?cursor=MA",
      "/discovery/search?query=weather&offset=2",
      "/discovery/search?query=weather&__proto__=1",
    ]) {
      const res = await call(fac, "GET", path);
      expect(res.status, path).toBe(400);
      expect(res.json.message, path).toMatch(/unknown parameter/);
    }
    const admin = await call(fac, "GET", "/discovery/admin/resources?type=http", { key: ADMIN_KEY });
    expect(admin).toMatchObject({ status: 400, json: { message: expect.stringContaining("type") } });
  });
});

// --- 8. failed payments -----------------------------------------------------------------------

describe("a payment that fails to settle", () => {
  it("is not catalogued, whatever it declares", async () => {
    const payTo = freshAddress();
    const resource = (n: string) => ({ url: `https://fail-${unique()}.example.com/${n}`, description: "Failed weather" });
    // unfunded payer
    const poor = privateKeyToAccount(generatePrivateKey());
    const unfunded = await fac.settle(await declaringPayment(payTo, resource("poor"), WEATHER, { payer: poor }));
    // tampered amount: the signature no longer matches (another payer, to spare the buyer's failure budget)
    const tamperer = privateKeyToAccount(generatePrivateKey());
    await chain.fund(tamperer.address, "1");
    const signed = await declaringPayment(payTo, resource("tampered"), WEATHER, { payer: tamperer });
    const authorization = { ...signed.paymentPayload.payload.authorization, value: "999" };
    const tampered = await fac.settle({
      ...signed,
      paymentPayload: { ...signed.paymentPayload, payload: { ...signed.paymentPayload.payload, authorization } },
    });
    // expired authorization
    const expired = await fac.settle(
      await declaringPayment(payTo, resource("expired"), WEATHER, { payer: tamperer, validBefore: now() - 60n }),
    );
    for (const res of [unfunded, tampered, expired]) expect(res.json, JSON.stringify(res.json)).toMatchObject({ success: false });

    const good = `https://fail-good-${unique()}.example.com/`;
    expect((await onlyGoodOne(fac, payTo, { url: good, description: "Settled weather" })).map((r) => r.resource)).toEqual([good]);
    // Nothing moved but the good payment.
    expect(await chain.balanceOf(payTo)).toBe(PRICE);
  });
});

// --- 9. verifying is not paying ---------------------------------------------------------------

// The resource words and extensions are not signed: anyone holding an authorization to a merchant
// may declare anything with it. Were a verify (which moves no money) or a replayed settlement
// catalogued, anyone could rewrite a merchant's entry, or list spam under its payTo, for free.
describe("a settled merchant's entry", () => {
  const merchant = freshAddress();
  const site = `https://genuine-${unique()}.example.com`;
  const genuine = { url: `${site}/weather`, description: "Genuine weather", serviceName: "Genuine", tags: ["weather"] };
  let settledBody: Awaited<ReturnType<typeof declaringPayment>>;
  /** The merchant's entry as listed, as searched and as stored: what nobody but the merchant's payers may change. */
  const snapshot = async () => ({
    listed: (await listed(fac, { payTo: merchant })).json,
    found: (await searched(fac, { query: "weather", payTo: merchant })).json,
    rows: await rowsOf(fac, merchant),
  });
  let expected: Awaited<ReturnType<typeof snapshot>>;

  beforeAll(async () => {
    settledBody = await declaringPayment(merchant, genuine);
    await settled(fac, settledBody);
    await catalogued(fac, merchant);
    expected = await snapshot();
  });

  /** Everything the hostile declarations could have made the writer do is done; nothing of the merchant's changed. */
  async function expectUnchanged() {
    await drained(fac);
    expect(await snapshot()).toEqual(expected);
    expect(expected.listed.items).toEqual([expect.objectContaining({ resource: genuine.url, description: "Genuine weather" })]);
    for (const word of ["hijacked", "spam", "evil"]) {
      expect((await searched(fac, { query: word, payTo: merchant })).json.resources, word).toEqual([]);
    }
  }

  it("is not changed by payments that only verify, valid as they are", async () => {
    const attacker = privateKeyToAccount(generatePrivateKey());
    await chain.fund(attacker.address, "1");
    const hijack = declared({ input: { city: "Evil" }, inputSchema: { properties: { city: { type: "string" } } } });
    const rewrites = [
      // the merchant's own resource, in other words
      { url: genuine.url, description: "Hijacked: pay evil.example instead", serviceName: "Evil", tags: ["evil"] },
      { url: `${genuine.url}?city=Paris`, description: "Hijacked weather", iconUrl: "https://evil.example.com/icon.png" },
      // resources the merchant never offered, listed under its payTo
      { url: `${site}/spam`, description: "Spam under the merchant's name" },
      { url: `https://spam-${unique()}.example.com/`, description: "Spam elsewhere" },
    ];
    for (const resource of rewrites) {
      await verified(fac, await declaringPayment(merchant, resource, hijack, { payer: attacker }));
    }
    const spamV1 = await v1Payment(merchant, {
      resource: `${site}/v1-spam`,
      description: "Spam v1 weather",
      outputSchema: { input: { type: "http", method: "GET" } },
    });
    await verified(fac, spamV1);
    await expectUnchanged();
    // Nothing was settled: the attacker still holds what it was given.
    expect(await chain.balanceOf(attacker.address)).toBe(1_000_000n);
  });

  it("is not changed by its settled payment sent again, with other words or the same", async () => {
    const rewritten = declaring(settledBody, { url: `${site}/spam`, description: "Hijacked by a replay" });
    const replayed = await fac.settle(rewritten);
    expect(replayed.json, JSON.stringify(replayed.json)).toMatchObject({ success: false, errorReason: "duplicate_settlement" });
    const again = await fac.settle(settledBody);
    expect(again.json, JSON.stringify(again.json)).toMatchObject({ success: false });
    await expectUnchanged();
  });
});

describe("payments that moved no money, or moved it before", () => {
  it("an idempotent replay (payment-identifier) answers success again but does not write the catalog again", async () => {
    const merchant = freshAddress();
    const url = `https://merchant-${unique()}.example.com/weather`;
    const id = `pid_${unique()}${unique()}${unique()}`;
    const declared = declaring(await payment(merchant), { url, description: "Hijacked: pay evil.example instead" });
    const hostile = {
      ...declared,
      paymentPayload: {
        ...declared.paymentPayload,
        extensions: { ...declared.paymentPayload.extensions, "payment-identifier": { info: { required: false, id } } },
      },
    };
    await settled(fac, hostile);
    await catalogued(fac, merchant);
    // A genuine customer's payment for the same resource puts the merchant's own words back.
    await paid(fac, merchant, { url, description: "Genuine weather" });
    await expect.poll(async () => (await rowsOf(fac, merchant))[0]?.description, { timeout: 5_000 }).toBe("Genuine weather");
    for (let i = 0; i < 3; i++) await settled(fac, hostile);
    await drained(fac);
    expect((await rowsOf(fac, merchant)).map((r) => r.description)).toEqual(["Genuine weather"]);
  });
});
