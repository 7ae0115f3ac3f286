// Acceptance interop for the Bazaar discovery catalog.
// Official, unmodified:
//  - the resource server: @x402/express@2 paymentMiddleware over an x402ResourceServer
//    (HTTPFacilitatorClient, ExactEvmScheme on eip155:84532) with the bazaar resource server
//    extension registered and routes declared with declareDiscoveryExtension
//    (test/support/bazaar-merchant.ts: a static GET /weather and a dynamic GET /users/:id);
//  - the buyer: @x402/fetch@2 wrapFetchWithPaymentFromConfig with the exact EVM client scheme
//    (test/support/buyers.ts), paying with Circle's real USDC on anvil;
//  - the discovery client: withBazaar(new HTTPFacilitatorClient(...)) from @x402/extensions/bazaar
//    (extensions.bazaar.listResources / search), and HTTPFacilitatorClient.getSupported;
//  - the reference for the canonical resource URL: extractDiscoveryInfo from @x402/extensions/bazaar.
// Ours: the facilitator (api + worker): /verify and /settle feed the catalog after answering,
// GET /discovery/resources and GET /discovery/search serve it, /supported advertises `bazaar`.
import { HTTPFacilitatorClient } from "@x402/core/server";
import { extractDiscoveryInfo, withBazaar } from "@x402/extensions/bazaar";
import type { Address } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBazaarMerchant, USERS, WEATHER, type BazaarMerchant } from "../support/bazaar-merchant.js";
import { bearerAuthHeaders, V2_NETWORK } from "../support/merchant.js";
import { pay, type Attempt } from "../support/buyers.js";
import { startTestChain, type TestChain } from "../support/chain.js";
import { startFacilitator, type TestFacilitator } from "../support/facilitator.js";
import { newBuyer, newPayTo } from "../support/interop-suite.js";

const API_KEY = "bazaar-merchant-key-0123456789";
const TX_HASH = /^0x[0-9a-f]{64}$/;
/** The catalog is written after the answer (a 250 ms batch): enough for a few batches. */
const POLL = { timeout: 10_000, interval: 100 };

/** What the listing must serve for a resource: exactly what its last payment declared. */
function expectedEntry(
  resource: string,
  paid: { payload?: any },
  route: { description: string; mimeType: string; serviceName: string; tags: readonly string[] },
) {
  return {
    resource,
    type: "http",
    x402Version: 2,
    accepts: [paid.payload.accepted],
    lastUpdated: expect.any(String),
    description: route.description,
    mimeType: route.mimeType,
    serviceName: route.serviceName,
    tags: [...route.tags],
    extensions: { bazaar: { info: paid.payload.extensions.bazaar.info, schema: paid.payload.extensions.bazaar.schema } },
  };
}

describe("Bazaar: official server declares, official client pays, official discovery client finds it at our facilitator", () => {
  let chain: TestChain;
  let fac: TestFacilitator;
  let merchant: BazaarMerchant;
  let payTo: Address;
  /** The official client's attempts, in the order they were made. */
  const paid: { url: string; attempt: Attempt }[] = [];
  /** The discovery client as an agent would use it: no API key (the catalog is public). */
  let discovery: ReturnType<typeof withBazaar<HTTPFacilitatorClient>>;

  beforeAll(async () => {
    chain = await startTestChain();
    fac = await startFacilitator(chain, { API_KEYS: API_KEY });
    payTo = newPayTo();
    merchant = await startBazaarMerchant({ facilitatorUrl: fac.url, payTo, apiKey: API_KEY });
    discovery = withBazaar(new HTTPFacilitatorClient({ url: fac.url }));
    const buyer = await newBuyer(chain, "1");
    for (const path of [`${WEATHER.path}?city=Lisbon`, "/users/1", "/users/2"]) {
      const url = `${merchant.base}${path}`;
      paid.push({ url, attempt: await pay("@x402/fetch@2", url, buyer, chain.rpcUrl) });
    }
  });

  afterAll(async () => {
    await merchant?.close();
    await fac?.close();
    await chain?.stop();
  });

  const weatherUrl = () => `${merchant.base}${WEATHER.path}`;
  const usersUrl = () => `${merchant.base}${USERS.pattern}`;
  const lastPaid = (prefix: string) => paid.filter((p) => p.url.startsWith(`${merchant.base}${prefix}`)).at(-1)!.attempt;

  it("the official client pays each route (the dynamic one twice) and gets 200, echoing the bazaar declaration", () => {
    expect(paid).toHaveLength(3);
    for (const { url, attempt } of paid) {
      expect(attempt.status, `${url} (reason: ${attempt.reason ?? "-"})`).toBe(200);
      expect(attempt.paymentHeaderName).toBe("PAYMENT-SIGNATURE");
      expect(attempt.receipt).toMatchObject({ success: true, transaction: expect.stringMatching(TX_HASH), network: V2_NETWORK });
      expect(attempt.payload.x402Version).toBe(2);
      expect(attempt.payload.resource.url).toBe(url);
      // The 402 carried the declaration (enriched by the server extension) and the client echoed it.
      expect(attempt.payload.extensions.bazaar).toMatchObject({
        info: { input: { type: "http", method: "GET" } },
        schema: expect.any(Object),
      });
    }
    expect(paid[0]!.attempt.body).toEqual({ city: "Lisbon", celsius: 21 });
    expect(paid[1]!.attempt.body).toEqual({ id: "1", name: "Ada" });
    expect(paid[2]!.attempt.body).toEqual({ id: "2", name: "Ada" });
    expect(merchant.handled).toEqual({ weather: 1, users: 2 });
    // The dynamic route's declaration names its template and this request's path parameters.
    expect(paid[1]!.attempt.payload.extensions.bazaar).toMatchObject({
      routeTemplate: USERS.pattern,
      info: { input: { pathParams: { id: "1" } } },
    });
    expect(paid[2]!.attempt.payload.extensions.bazaar).toMatchObject({
      routeTemplate: USERS.pattern,
      info: { input: { pathParams: { id: "2" } } },
    });
    expect(paid[0]!.attempt.payload.extensions.bazaar.routeTemplate).toBeUndefined();
  });

  it("the official extraction folds /users/<n> into the route template and drops the query string", () => {
    const canonical = paid.map(({ attempt }) => extractDiscoveryInfo(attempt.payload, attempt.payload.accepted, true)?.resourceUrl);
    expect(canonical).toEqual([weatherUrl(), usersUrl(), usersUrl()]);
  });

  it("lists exactly the two resources of this merchant through /discovery/resources, with what they declared", async () => {
    const weather = lastPaid(WEATHER.path);
    const users = lastPaid("/users/");
    const expectedWeather = { ...expectedEntry(weatherUrl(), weather, WEATHER), iconUrl: WEATHER.iconUrl };
    // One entry for /users/1 and /users/2: the later payment's declaration is the one kept.
    const expectedUsers = expectedEntry(usersUrl(), users, USERS);
    const byResource = async () => {
      const page = await discovery.extensions.bazaar.listResources({ payTo });
      return { ...page, items: [...page.items].sort((a, b) => a.resource.localeCompare(b.resource)) };
    };
    await expect.poll(byResource, POLL).toEqual({
      x402Version: 2,
      items: [expectedUsers, expectedWeather].sort((a, b) => a.resource.localeCompare(b.resource)),
      pagination: { limit: 20, offset: 0, total: 2 },
    });

    const page = await discovery.extensions.bazaar.listResources({ payTo });
    for (const item of page.items) {
      expect(item.accepts).toHaveLength(1);
      expect(item.accepts[0]).toMatchObject({ scheme: "exact", network: V2_NETWORK, amount: "10000" });
      expect(item.accepts[0]!.asset.toLowerCase()).toBe(chain.usdc.address.toLowerCase());
      expect(item.accepts[0]!.payTo.toLowerCase()).toBe(payTo.toLowerCase());
      expect(new Date(item.lastUpdated).toISOString()).toBe(item.lastUpdated);
      expect(item.extensions?.bazaar).toMatchObject({ info: { input: { type: "http", method: "GET" } } });
    }
    // The filters the official client sends are honoured: another payee has nothing listed, a page of one is a page of one.
    const other = await discovery.extensions.bazaar.listResources({ payTo: newPayTo() });
    expect(other).toEqual({ x402Version: 2, items: [], pagination: { limit: 20, offset: 0, total: 0 } });
    // Paged one at a time, the two pages hold the two entries (polled: a last batch may still reorder them).
    const filters = { payTo, type: "http", network: V2_NETWORK, scheme: "exact", limit: 1 };
    const onePerPage = async () => {
      const [first, second] = await Promise.all([0, 1].map((offset) => discovery.extensions.bazaar.listResources({ ...filters, offset })));
      return {
        paginations: [first!.pagination, second!.pagination],
        resources: [first!.items[0]?.resource, second!.items[0]?.resource].sort(),
      };
    };
    await expect.poll(onePerPage, POLL).toEqual({
      paginations: [
        { limit: 1, offset: 0, total: 2 },
        { limit: 1, offset: 1, total: 2 },
      ],
      resources: [usersUrl(), weatherUrl()].sort(),
    });
  });

  it("finds the static resource by a word of its description through /discovery/search, and nothing for a word in neither", async () => {
    const listed = (await discovery.extensions.bazaar.listResources({ payTo })).items;
    const weatherEntry = listed.find((i) => i.resource === weatherUrl());
    expect(weatherEntry).toBeDefined();

    await expect
      .poll(() => discovery.extensions.bazaar.search({ query: "weather" }), POLL)
      .toEqual({
        x402Version: 2,
        resources: [weatherEntry],
        partialResults: false,
        pagination: { limit: 20, cursor: null },
      });
    // Filtered to this payee, the same single answer.
    const mine = await discovery.extensions.bazaar.search({ query: "weather", payTo });
    expect(mine.resources.map((r) => r.resource)).toEqual([weatherUrl()]);
    // A tag of the dynamic route finds the folded entry.
    const profiles = await discovery.extensions.bazaar.search({ query: USERS.tags[0] });
    expect(profiles.resources.map((r) => r.resource)).toEqual([usersUrl()]);

    const none = await discovery.extensions.bazaar.search({ query: "submarine" });
    expect(none).toEqual({ x402Version: 2, resources: [], partialResults: false, pagination: { limit: 20, cursor: null } });
  });

  it("/supported lists bazaar in extensions (read by the official facilitator client)", async () => {
    const supported = await new HTTPFacilitatorClient({ url: fac.url, createAuthHeaders: bearerAuthHeaders(API_KEY) }).getSupported();
    expect(supported.extensions).toContain("bazaar");
    expect(supported.kinds).toEqual(
      expect.arrayContaining([expect.objectContaining({ x402Version: 2, scheme: "exact", network: V2_NETWORK })]),
    );
  });
});
