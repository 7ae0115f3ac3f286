// Compatibility edge cases between the official middleware/clients and our facilitator, on
// anvil with Circle's real USDC:
//  - the v2 "upfront" payment flow (extra.paymentFlow "upfront": /settle before the handler, no /verify);
//  - settlement_pending and the v2 resource server's single automatic retry (settleWithPendingRetry);
//  - a facilitator URL with a path prefix (served through a prefix-stripping proxy);
//  - /supported kinds matched literally by the v2 resource server.
import { decodePaymentRequiredHeader } from "@x402/core/http";
import { HTTPFacilitatorClient, x402HTTPResourceServer, x402ResourceServer } from "@x402/core/server";
import { ExactEvmScheme } from "@x402/evm/exact/server";
import type { Address } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nonceOf, pay, replay, signOnce, type Attempt } from "../support/buyers.js";
import { startTestChain, type TestChain } from "../support/chain.js";
import { usesOf } from "../support/chain-facts.js";
import { startFacilitator, type TestFacilitator } from "../support/facilitator.js";
import { startFacilitatorProxy, type FacilitatorProxy, type ProxiedCall } from "../support/facilitator-proxy.js";
import { balances, expectPaid, keyId, ledgerRows, newBuyer, newPayTo, startMerchant, type ServerKind } from "../support/interop-suite.js";
import { startReferenceFacilitator } from "../../bench/peer-facilitator.js";
import { ANVIL_KEYS } from "../../src/devnet/anvil.js";
import { bearerAuthHeaders, PRICE, startV1Merchant, startV2Merchant, V2_NETWORK, type Merchant } from "../support/merchant.js";

const API_KEY = "interop-edge-key-0123456789";
const TX_HASH = /^0x[0-9a-f]{64}$/;

let chain: TestChain;

beforeAll(async () => {
  chain = await startTestChain();
});

afterAll(async () => {
  await chain?.stop();
});

async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms (last value ${JSON.stringify(v)})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A beforeReply hook that holds each answer until `count` have been answered (or 10 s passed,
 * so a missing call fails the test's assertions instead of hanging it).
 */
function verifyBarrier(count: number): (call: ProxiedCall) => Promise<void> {
  let seen = 0;
  let release!: () => void;
  const all = new Promise<void>((r) => (release = r));
  return async () => {
    if (++seen >= count) release();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise((r) => (timer = setTimeout(r, 10_000)))]);
    clearTimeout(timer);
  };
}

const rowOf = async (fac: TestFacilitator, payer: Address) => (await ledgerRows(fac, payer))[0];

describe('v2 upfront payment flow (extra.paymentFlow "upfront")', () => {
  let fac: TestFacilitator;
  let proxy: FacilitatorProxy;
  let merchant: Merchant | undefined;
  /** merchant.handled() at the moment each /settle answer came back. */
  const handledAtSettle: number[] = [];

  beforeAll(async () => {
    fac = await startFacilitator(chain, { API_KEYS: API_KEY });
    proxy = await startFacilitatorProxy(fac.url, {
      beforeReply: (call) => {
        if (call.forwardedPath === "/settle") handledAtSettle.push(merchant?.handled() ?? -1);
      },
    });
  });

  afterAll(async () => {
    await merchant?.close();
    await proxy?.close();
    await fac?.close();
  });

  async function upfrontMerchant(payTo: Address) {
    await merchant?.close();
    proxy.calls.length = 0;
    handledAtSettle.length = 0;
    merchant = await startV2Merchant({ facilitatorUrl: proxy.url, payTo, apiKey: API_KEY, extra: { paymentFlow: "upfront" } });
    return merchant;
  }

  it("settles before the handler without calling /verify: 200, receipt, exact balance moves", async () => {
    const buyer = await newBuyer(chain, "1");
    const payTo = newPayTo();
    const m = await upfrontMerchant(payTo);
    const [b0, p0] = await balances(chain, buyer.address, payTo);
    const a = await pay("@x402/fetch@2", m.paidUrl, buyer, chain.rpcUrl);
    expectPaid(a, { client: "@x402/fetch@2", server: "@x402/express@2 paymentMiddleware" }, buyer.address);
    expect(a.payload.accepted.extra).toMatchObject({ name: "USDC", version: "2", paymentFlow: "upfront" });
    expect(await balances(chain, buyer.address, payTo)).toEqual([b0! - PRICE, p0! + PRICE]);
    expect(await usesOf(chain, buyer.address, nonceOf(a.payload))).toEqual([a.receipt!.transaction]);

    expect(proxy.callsTo("/verify")).toHaveLength(0);
    const settles = proxy.callsTo("/settle");
    expect(settles).toHaveLength(1);
    expect(settles[0]!.requestBody.paymentRequirements.extra).toMatchObject({ paymentFlow: "upfront" });
    expect(settles[0]!.responseBody).toEqual({
      success: true,
      payer: buyer.address,
      transaction: a.receipt!.transaction,
      network: V2_NETWORK,
    });
    expect(settles[0]!.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(handledAtSettle).toEqual([0]);
    expect(m.handled()).toBe(1);
    expect((await rowOf(fac, buyer.address))?.api_key_id).toBe(keyId(API_KEY));
  });

  it("an underfunded payer gets 402 with the reason from /settle, and the handler never runs", async () => {
    const buyer = await newBuyer(chain, "0.005");
    const payTo = newPayTo();
    const m = await upfrontMerchant(payTo);
    const a = await pay("@x402/fetch@2", m.paidUrl, buyer, chain.rpcUrl);
    expect(a.status).toBe(402);
    expect(a.reason).toBe("invalid_exact_evm_insufficient_balance");
    // The failed settle receipt travels in PAYMENT-RESPONSE too.
    expect(a.receipt).toMatchObject({
      success: false,
      errorReason: "invalid_exact_evm_insufficient_balance",
      transaction: "",
      network: V2_NETWORK,
    });
    expect(proxy.callsTo("/verify")).toHaveLength(0);
    expect(proxy.callsTo("/settle")).toHaveLength(1);
    expect(m.handled()).toBe(0);
    expect(await balances(chain, buyer.address, payTo)).toEqual([5_000n, 0n]);
  });
});

describe.each([
  ["our facilitator", "ours"],
  ["control: the official x402Facilitator + @x402/evm exact scheme", "reference"],
] as const)("one authorization, several requests — %s", (_label, which) => {
  // /settle must give at most one success per authorization. The reference facilitator's
  // settleEIP3009 says so itself: a repeated payload "falls through to the normal broadcast
  // path, which independently rejects it as an on-chain replay (nonce already consumed)".
  let fac: TestFacilitator | undefined;
  let reference: { url: string; close(): Promise<void> } | undefined;
  let proxy: FacilitatorProxy;
  const apiKey = which === "ours" ? API_KEY : undefined;
  /** Set by a test that needs to hold /verify answers back; see verifyBarrier. */
  let onVerifyAnswered: ((call: ProxiedCall) => Promise<void>) | undefined;

  beforeAll(async () => {
    if (which === "ours") fac = await startFacilitator(chain, { API_KEYS: API_KEY });
    else reference = await startReferenceFacilitator(chain.rpcUrl, ANVIL_KEYS[1]);
    proxy = await startFacilitatorProxy((fac ?? reference)!.url, {
      beforeReply: (call) => (call.forwardedPath === "/verify" ? onVerifyAnswered?.(call) : undefined),
    });
  });

  afterAll(async () => {
    await proxy?.close();
    await fac?.close();
    await reference?.close();
  });

  it("upfront flow: replaying the captured PAYMENT-SIGNATURE gets 402, the handler does not run again, no money moves", async () => {
    // Nothing calls /verify in the upfront flow, so /settle alone must refuse an authorization
    // that was already settled; answering the same success again serves the resource again for free.
    const buyer = await newBuyer(chain, "1");
    const payTo = newPayTo();
    const m = await startV2Merchant({ facilitatorUrl: proxy.url, payTo, apiKey, extra: { paymentFlow: "upfront" } });
    try {
      const paid = await pay("@x402/fetch@2", m.paidUrl, buyer, chain.rpcUrl);
      expect(paid.status).toBe(200);
      const after = await balances(chain, buyer.address, payTo);
      proxy.calls.length = 0;

      const again = await replay(m.paidUrl, "PAYMENT-SIGNATURE", paid.paymentHeader!);
      expect(proxy.callsTo("/verify")).toHaveLength(0);
      const replayedSettle = proxy.callsTo("/settle");
      expect(replayedSettle).toHaveLength(1);
      // Money: never twice, whatever the answer.
      expect(await balances(chain, buyer.address, payTo)).toEqual(after);
      expect(await usesOf(chain, buyer.address, nonceOf(paid.payload))).toEqual([paid.receipt!.transaction]);
      expect.soft(replayedSettle[0]!.responseBody, "/settle answer to the replayed (identical) request").toMatchObject({ success: false });
      expect.soft(again.status, "the replay must not be served").toBe(402);
      expect.soft(m.handled(), "handler runs").toBe(1);
    } finally {
      await m.close();
    }
  });

  it.each(["x402-express@1", "@x402/express@2 paymentMiddleware"] as ServerKind[])(
    "authorization flow, %s: one header sent twice at once — one request served, the other refused, the money moves once",
    async (server) => {
      // Both /verify calls run before either /settle, so both pass and both handlers run (the
      // middleware settles after the handler); /settle then decides which response is released.
      // The proxy holds each /verify answer until both have been answered, so that order holds
      // by construction: on a loaded machine one request could otherwise finish its settle
      // before the other's verify arrives, and that verify would rightly say "already used".
      const buyer = await newBuyer(chain, "1");
      const payTo = newPayTo();
      const merchant = await startMerchant(server, { facilitatorUrl: proxy.url, payTo, apiKey });
      onVerifyAnswered = verifyBarrier(2);
      try {
        const h = await signOnce(merchant.paidUrl, buyer);
        proxy.calls.length = 0;
        const answers = await Promise.all([replay(merchant.paidUrl, h.name, h.value), replay(merchant.paidUrl, h.name, h.value)]);
        await new Promise((r) => setTimeout(r, 200));
        expect(await balances(chain, buyer.address, payTo)).toEqual([1_000_000n - PRICE, PRICE]);
        const uses = await usesOf(chain, buyer.address, nonceOf(h.payload));
        expect(uses).toHaveLength(1);
        const served = answers.filter((a) => a.status === 200);
        expect(served.length, "at least one is served").toBeGreaterThanOrEqual(1);
        expect(served[0]!.receipt?.transaction).toBe(uses[0]);
        expect(proxy.callsTo("/verify").map((c) => c.responseBody.isValid)).toEqual([true, true]);
        expect(merchant.handled()).toBe(2);
        const settles = proxy.callsTo("/settle");
        expect(settles).toHaveLength(2);
        expect.soft(settles.filter((c) => c.responseBody.success).length, "/settle successes for one authorization").toBe(1);
        expect.soft(answers.map((a) => a.status).sort(), "statuses of the two requests (one payment)").toEqual([200, 402]);
        expect.soft(answers.filter((a) => a.receipt?.success).length, "successful receipts handed out").toBe(1);
      } finally {
        onVerifyAnswered = undefined;
        await merchant.close();
      }
    },
  );
});

describe("settlement_pending and the v2 resource server's single retry (settleWithPendingRetry)", () => {
  /**
   * Pays through @x402/fetch -> @x402/express with anvil's automine off, so /settle cannot see a
   * receipt within SETTLE_WAIT_MS. `onFirstPending` runs when our first settlement_pending answer
   * is on its way back to the middleware.
   */
  async function pendingScenario(settleWaitMs: string, onFirstPending: (fac: TestFacilitator, call: ProxiedCall) => Promise<void>) {
    const fac = await startFacilitator(chain, { SETTLE_WAIT_MS: settleWaitMs });
    let first: ProxiedCall | undefined;
    const proxy = await startFacilitatorProxy(fac.url, {
      async beforeReply(call) {
        if (call.forwardedPath !== "/settle" || first || call.responseBody?.errorReason !== "settlement_pending") return;
        first = call;
        await onFirstPending(fac, call);
      },
    });
    const buyer = await newBuyer(chain, "1");
    const payTo = newPayTo();
    const merchant = await startV2Merchant({ facilitatorUrl: proxy.url, payTo });
    const [b0, p0] = await balances(chain, buyer.address, payTo);
    let a: Attempt;
    try {
      await chain.test.setAutomine(false);
      a = await pay("@x402/fetch@2", merchant.paidUrl, buyer, chain.rpcUrl);
    } finally {
      await chain.test.setAutomine(true);
      await chain.test.mine({ blocks: 1 });
    }
    // Whatever the middleware said, let the worker finish so the chain shows the final outcome.
    const row = await until(
      () => rowOf(fac, buyer.address),
      (r) => !!r && (r.state === "mined" || r.state === "confirmed"),
    );
    const cleanup = async () => {
      await merchant.close();
      await proxy.close();
      await fac.close();
    };
    return { fac, proxy, buyer, payTo, merchant, a, first, row, before: [b0!, p0!] as const, cleanup };
  }

  it("first /settle answers settlement_pending with the tx hash; the middleware's retry gets success with the same hash", async () => {
    // Long enough for the worker to sign and broadcast, too short for the held-back block.
    const s = await pendingScenario("2500", async () => {
      // The block arrives while the middleware's retry is waiting on our api.
      setTimeout(() => void chain.test.mine({ blocks: 1 }), 300);
    });
    try {
      expect(s.first, "a settlement_pending answer").toBeDefined();
      expect(s.first!.responseBody).toEqual({
        success: false,
        errorReason: "settlement_pending",
        payer: s.buyer.address,
        transaction: expect.stringMatching(TX_HASH),
        network: V2_NETWORK,
      });
      const settles = s.proxy.callsTo("/settle");
      expect(settles).toHaveLength(2);
      // The retry is the identical request, answered from the same transaction.
      expect(settles[1]!.requestBody).toEqual(settles[0]!.requestBody);
      expect(settles[1]!.responseBody).toEqual({
        success: true,
        payer: s.buyer.address,
        transaction: s.first!.responseBody.transaction,
        network: V2_NETWORK,
      });
      expectPaid(s.a, { client: "@x402/fetch@2", server: "@x402/express@2 paymentMiddleware" }, s.buyer.address);
      expect(s.a.receipt!.transaction).toBe(s.first!.responseBody.transaction);
      expect(await usesOf(chain, s.buyer.address, nonceOf(s.a.payload))).toEqual([s.a.receipt!.transaction]);
      expect(await balances(chain, s.buyer.address, s.payTo)).toEqual([s.before[0] - PRICE, s.before[1] + PRICE]);
      expect(s.merchant.handled()).toBe(1);
    } finally {
      await s.cleanup();
    }
  });

  it("SETTLE_WAIT_MS=1: the first settlement_pending still carries a tx hash, so the retry can succeed", async () => {
    // Our first answer is held back (a slow link between facilitator and merchant) until the
    // worker has broadcast and the block is mined: a retry would then find the settlement done.
    const s = await pendingScenario("1", async (fac, call) => {
      const payer = call.requestBody.paymentPayload.payload.authorization.from as Address;
      await until(
        () => rowOf(fac, payer),
        (r) => r?.state === "submitted",
      );
      await chain.test.mine({ blocks: 1 });
      await until(
        () => rowOf(fac, payer),
        (r) => r?.state === "mined" || r?.state === "confirmed",
      );
    });
    try {
      expect(s.first, "a settlement_pending answer").toBeDefined();
      // Money moved exactly once in any case.
      const uses = await usesOf(chain, s.buyer.address, nonceOf(s.a.payload));
      expect(uses).toEqual([s.row!.settled_tx]);
      expect(await balances(chain, s.buyer.address, s.payTo)).toEqual([s.before[0] - PRICE, s.before[1] + PRICE]);
      // The v2 resource server retries only a settlement_pending that names a transaction
      // (isRetryableSettlementPendingResult: !success && errorReason === "settlement_pending" && !!transaction).
      expect.soft(s.first!.responseBody.transaction, "settlement_pending must carry the tx hash").toMatch(TX_HASH);
      expect.soft(s.proxy.callsTo("/settle"), "the middleware's retry").toHaveLength(2);
      // The buyer was charged, so the buyer must get the resource and the receipt.
      expect.soft(s.a.status, `status of the paid request (reason: ${s.a.reason})`).toBe(200);
      expect.soft(s.a.receipt?.transaction, "receipt names the transfer").toBe(uses[0]);
    } finally {
      await s.cleanup();
    }
  });
});

describe("facilitator URL with a path prefix", () => {
  let fac: TestFacilitator;
  let proxy: FacilitatorProxy;

  beforeAll(async () => {
    fac = await startFacilitator(chain, { API_KEYS: API_KEY });
    proxy = await startFacilitatorProxy(fac.url, { prefix: "/facilitator" });
  });

  afterAll(async () => {
    await proxy?.close();
    await fac?.close();
  });

  it("our api itself has no base path: /facilitator/* is 404 there, hence the prefix-stripping proxy", async () => {
    expect((await fetch(`${fac.url}/facilitator/supported`)).status).toBe(404);
    expect((await fetch(`${proxy.url}/supported`)).status).toBe(200);
  });

  it.each([
    ["@x402/fetch@2 -> @x402/express@2", "v2", ""],
    ["@x402/fetch@2 -> @x402/express@2 (URL with a trailing slash)", "v2", "/"],
    ["x402-fetch@1 -> x402-express@1", "v1", ""],
  ] as const)("%s pays through http://host/facilitator", async (_label, version, trailing) => {
    proxy.calls.length = 0;
    const buyer = await newBuyer(chain, "1");
    const payTo = newPayTo();
    const o = { facilitatorUrl: `${proxy.url}${trailing}`, payTo, apiKey: API_KEY };
    const merchant = version === "v2" ? await startV2Merchant(o) : await startV1Merchant(o);
    try {
      const [b0, p0] = await balances(chain, buyer.address, payTo);
      const a = await pay(version === "v2" ? "@x402/fetch@2" : "x402-fetch@1", merchant.paidUrl, buyer, chain.rpcUrl);
      expectPaid(
        a,
        {
          client: version === "v2" ? "@x402/fetch@2" : "x402-fetch@1",
          server: version === "v2" ? "@x402/express@2 paymentMiddleware" : "x402-express@1",
        },
        buyer.address,
      );
      expect(await balances(chain, buyer.address, payTo)).toEqual([b0! - PRICE, p0! + PRICE]);
      const paths = proxy.calls.map((c) => `${c.method} ${c.path}`);
      expect(paths).toEqual(expect.arrayContaining(["POST /facilitator/verify", "POST /facilitator/settle"]));
      if (version === "v2") expect(paths).toContain("GET /facilitator/supported");
      for (const c of proxy.calls) {
        expect(c.path.startsWith("/facilitator/")).toBe(true);
        expect(c.headers.authorization).toBe(`Bearer ${API_KEY}`);
        expect(c.status).toBe(200);
      }
    } finally {
      await merchant.close();
    }
  });
});

describe("/supported: kinds the v2 resource server matches literally", () => {
  let fac: TestFacilitator;

  beforeAll(async () => {
    fac = await startFacilitator(chain, { API_KEYS: API_KEY });
  });

  afterAll(async () => {
    await fac?.close();
  });

  it("lists concrete networks only: CAIP-2 eip155:<id> for v2, the legacy name for v1, no patterns", async () => {
    const body = (await (await fetch(`${fac.url}/supported`)).json()) as {
      kinds: { x402Version: number; scheme: string; network: string }[];
    };
    expect(body.kinds).toEqual(
      expect.arrayContaining([
        { x402Version: 2, scheme: "exact", network: "eip155:84532" },
        { x402Version: 1, scheme: "exact", network: "base-sepolia" },
      ]),
    );
    for (const k of body.kinds) {
      expect(k.network).not.toContain("*");
      expect(k.network).toMatch(k.x402Version === 2 ? /^eip155:[1-9][0-9]*$/ : /^[a-z0-9-]+$/);
    }
    expect(new Set(body.kinds.map((k) => `${k.x402Version}/${k.scheme}/${k.network}`)).size).toBe(body.kinds.length);
  });

  it("a resource server registered for the pattern eip155:* finds the literal kind for its eip155:84532 route", async () => {
    const client = new HTTPFacilitatorClient({ url: fac.url, createAuthHeaders: bearerAuthHeaders(API_KEY) });
    const server = new x402ResourceServer(client).register("eip155:*", new ExactEvmScheme());
    await server.initialize();
    // getSupportedKind compares kind.network === network literally.
    expect(server.getSupportedKind(2, V2_NETWORK, "exact")).toEqual({ x402Version: 2, scheme: "exact", network: V2_NETWORK });
    expect(server.getSupportedKind(1, "base-sepolia" as `${string}:${string}`, "exact")).toEqual({
      x402Version: 1,
      scheme: "exact",
      network: "base-sepolia",
    });
    expect(server.getSupportedKind(2, "eip155:8453", "exact")).toBeUndefined();
    const payTo = newPayTo();
    const http = new x402HTTPResourceServer(server, {
      "GET /paid": { accepts: { scheme: "exact", price: "$0.01", network: V2_NETWORK, payTo }, description: "paid" },
    });
    await expect(http.initialize()).resolves.toBeUndefined();
    const requirements = await server.buildPaymentRequirements({ scheme: "exact", price: "$0.01", network: V2_NETWORK, payTo });
    expect(requirements[0]).toMatchObject({
      scheme: "exact",
      network: V2_NETWORK,
      amount: PRICE.toString(),
      asset: chain.usdc.address,
      payTo,
      extra: { name: "USDC", version: "2" },
    });
  });

  it("and the 402 the middleware serves from it names exactly the network our /supported lists", async () => {
    const payTo = newPayTo();
    const merchant = await startV2Merchant({ facilitatorUrl: fac.url, payTo, apiKey: API_KEY });
    try {
      const res = await fetch(merchant.paidUrl);
      expect(res.status).toBe(402);
      const required = decodePaymentRequiredHeader(res.headers.get("PAYMENT-REQUIRED")!);
      expect(required.accepts.map((r) => r.network)).toEqual([V2_NETWORK]);
    } finally {
      await merchant.close();
    }
  });
});
