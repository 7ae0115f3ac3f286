// The operator inputs fuzzed as /verify and /settle are: webhook bodies and ids, settlement and
// stats filters, the dashboard's login form and search. Whatever arrives, the answer is never a
// 5xx, and every JSON refusal names what it refused.
import fc from "fast-check";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startTestChain, type TestChain } from "./support/chain.js";
import { ADMIN_KEY, startFacilitator, type TestFacilitator } from "./support/facilitator.js";

let chain: TestChain;
let fac: TestFacilitator;

beforeAll(async () => {
  chain = await startTestChain();
  fac = await startFacilitator(chain, { WEBHOOK_ALLOW_PRIVATE_URLS: "0" }, { worker: false });
}, 60_000);

afterAll(async () => {
  await fac?.close();
  await chain?.stop();
});

const admin = { authorization: `Bearer ${ADMIN_KEY}` };

/** Anything JSON can carry, with the shapes the endpoints expect mixed in. */
const jsonish = fc.oneof(
  fc.jsonValue(),
  fc.record(
    {
      url: fc.oneof(fc.webUrl(), fc.string(), fc.constant("http://127.0.0.1/x"), fc.constant("javascript:alert(1)")),
      events: fc.oneof(fc.array(fc.string()), fc.constant(["settlement.confirmed"]), fc.jsonValue()),
      payTo: fc.oneof(
        fc.array(fc.string({ maxLength: 42 }).map((s) => `0x${Buffer.from(s).toString("hex")}`.slice(0, 42))),
        fc.jsonValue(),
      ),
    },
    { requiredKeys: [] },
  ),
);

const queryText = fc.oneof(
  fc.string(),
  fc.constantFrom(
    "limit=0",
    "limit=501",
    "limit=abc",
    "status=nope",
    "payer=0x12",
    "since=yesterday",
    "cursor=%%%",
    "window=7d",
    "query=a%00b",
    "scheme=%00",
    "cursor=MWUxNQ",
    "type=rpc",
  ),
);

async function expectAnswered(res: Response, where: string) {
  expect(res.status, where).toBeLessThan(500);
  const type = res.headers.get("content-type") ?? "";
  if (res.status >= 400 && type.includes("json")) {
    const body = (await res.json()) as { error?: string };
    expect(body.error, where).toBeTruthy();
  } else await res.arrayBuffer();
}

it("webhook bodies, ids and replays: never a 5xx", async () => {
  await fc.assert(
    fc.asyncProperty(jsonish, fc.string({ maxLength: 40 }), async (body, id) => {
      const created = await fetch(`${fac.url}/webhooks`, {
        method: "POST",
        headers: { ...admin, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      await expectAnswered(created, `POST /webhooks ${JSON.stringify(body)}`);
      const path = encodeURIComponent(id);
      for (const [method, url] of [
        ["DELETE", `/webhooks/${path}`],
        ["POST", `/webhooks/${path}/rotate`],
        ["GET", `/webhooks/${path}/deliveries`],
        ["POST", `/webhooks/${path}/deliveries/${path}/replay`],
      ] as const)
        await expectAnswered(await fetch(`${fac.url}${url}`, { method, headers: admin }), `${method} ${url}`);
    }),
    { seed: 11, numRuns: 60 },
  );
});

it("settlement, stats and key filters: never a 5xx", async () => {
  await fc.assert(
    fc.asyncProperty(queryText, async (q) => {
      for (const path of [
        "/settlements",
        "/settlements/by-authorization",
        "/stats",
        "/relayers",
        "/keys",
        "/webhooks/failing-deliveries",
      ]) {
        const res = await fetch(`${fac.url}${path}?${q}`, { headers: admin });
        await expectAnswered(res, `${path}?${q}`);
      }
    }),
    { seed: 12, numRuns: 60 },
  );
});

it("the Bazaar catalog's listings, search and controls: never a 5xx", async () => {
  await fc.assert(
    fc.asyncProperty(queryText, fc.string({ unit: "binary", maxLength: 30 }), async (q, id) => {
      for (const path of ["/discovery/resources", "/discovery/search", "/discovery/admin/resources"]) {
        const res = await fetch(`${fac.url}${path}?${q}`, { headers: admin });
        await expectAnswered(res, `${path}?${q}`);
      }
      const at = `/discovery/admin/resources/${encodeURIComponent(id)}`;
      for (const [method, url] of [
        ["POST", `${at}/hide`],
        ["POST", `${at}/unhide`],
        ["DELETE", at],
        ["GET", `/settlements/by-tx/${encodeURIComponent(id)}`],
      ] as const)
        await expectAnswered(await fetch(`${fac.url}${url}`, { method, headers: admin }), `${method} ${url}`);
    }),
    { seed: 14, numRuns: 60 },
  );
});

it("the dashboard's login form and search: never a 5xx, never logged in by a wrong key", async () => {
  await fc.assert(
    fc.asyncProperty(fc.string(), fc.string(), async (key, next) => {
      const form = new URLSearchParams({ key, next });
      const res = await fetch(`${fac.url}/dashboard/login`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", "sec-fetch-site": "same-origin" },
        body: form.toString(),
        redirect: "manual",
      });
      expect(res.status, key).toBe(401);
      expect(res.headers.get("set-cookie")).toBeNull();
      await res.arrayBuffer();
      const search = await fetch(`${fac.url}/dashboard/search?q=${encodeURIComponent(key)}`);
      expect(search.status).toBeLessThan(500);
      await search.arrayBuffer();
    }),
    { seed: 13, numRuns: 60 },
  );
});
