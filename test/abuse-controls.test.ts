// Abuse controls, against the real api and worker on anvil: an API key's policy refuses what the
// key may not ask for before a single RPC request (counted at a proxy between the api and the
// node), and the official middleware turns that refusal into a 402; rate limits are counted once
// across api processes; a payer whose payments keep failing is stopped before it costs RPC, while
// forged signatures cannot lock a payer out; a key's daily gas budget, metered from receipts,
// stops its new settlements once spent.
import { randomBytes } from "node:crypto";
import { encodeFunctionData, type Address, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";
import { afterAll, afterEach, describe, expect, inject, it } from "vitest";
import { ANVIL_KEYS } from "../src/devnet/anvil.js";
import { sendTx } from "../src/devnet/contracts.js";
import { fiatTokenAbi } from "../src/devnet/usdc.js";
import { call, keysFile, post, removeTempFiles, sleep, waitUntil, type Answer, type KeySpec } from "./support/abuse.js";
import { testEnv } from "./support/api.js";
import { pay } from "./support/buyers.js";
import { relayerNonce, usesOf } from "./support/chain-facts.js";
import { createTestDatabase } from "./support/database.js";
import { startFacilitator, type TestFacilitator } from "./support/facilitator.js";
import { useLab } from "./support/lab.js";
import { startV2Merchant } from "./support/merchant.js";
import { fundedPayment, signAuthorization, v2Body } from "./support/payments.js";
import { killAllProcesses, spawnMode, type FacilitatorProcess } from "./support/processes.js";
import { startRpcProxy, type RpcProxy } from "./support/rpc-proxy.js";

const NETWORK = "eip155:84532";
const PRICE = 10_000n;
const relayer = privateKeyToAccount(ANVIL_KEYS[0]).address;
const fresh = () => privateKeyToAccount(generatePrivateKey());

const SHOP_KEY = "shop-key-0123456789abcdef";
const MAINNET_KEY = "mainnet-only-key-0123456789";
const OPEN_KEY = "open-key-0123456789abcdef";

const proxies: RpcProxy[] = [];
const lab = useLab({
  afterEach: async () => {
    await Promise.all(proxies.splice(0).map((p) => p.close()));
  },
});
afterAll(() => removeTempFiles());

/**
 * The api reaches the chain only through a counting proxy; the worker goes straight to the node,
 * so the count is the api's alone.
 */
async function facilitatorBehindProxy(
  keys: KeySpec[],
  env: Record<string, string> = {},
): Promise<{ fac: TestFacilitator; proxy: RpcProxy }> {
  const proxy = await startRpcProxy(lab.chain.rpcUrl);
  proxies.push(proxy);
  lab.fac = await startFacilitator(
    lab.chain,
    { RPC_URL_BASE_SEPOLIA: proxy.url, API_KEYS_FILE: keysFile(keys), ...env },
    { worker: false },
  );
  await lab.fac.startWorker({ RPC_URL_BASE_SEPOLIA: lab.chain.rpcUrl });
  return { fac: lab.fac, proxy };
}

const rowsOf = (fac: TestFacilitator, payer: Address) =>
  fac.sql<{ id: string; state: string; api_key_id: string | null; settled_tx: string | null }[]>`
    select id, state, api_key_id, settled_tx from settlements where payer = ${payer.toLowerCase()}`;

const TX_HASH = /^0x[0-9a-f]{64}$/;

describe("key policy", () => {
  const allowedPayTo = fresh().address;
  const otherPayTo = fresh().address;
  const otherAsset = fresh().address;

  const keys = (usdc: Address): KeySpec[] => [
    // The network by its v1 name: a key may name it either way.
    { id: "shop", key: SHOP_KEY, payTo: [allowedPayTo], networks: ["base-sepolia"], assets: [usdc], maxAmount: PRICE.toString() },
    { id: "mainnet-only", key: MAINNET_KEY, networks: ["eip155:8453"] },
  ];

  /** A payment that would verify but for the asset: signed for a token the key does not allow. */
  async function paymentInOtherAsset() {
    const buyer = fresh();
    await lab.chain.fund(buyer.address, "1");
    const signed = await signAuthorization({
      payer: buyer,
      payTo: allowedPayTo,
      value: PRICE,
      asset: otherAsset,
      chainId: lab.chain.chainId,
    });
    return { buyer, ...signed, body: v2Body({ ...signed, asset: otherAsset, payTo: allowedPayTo, amount: PRICE, network: NETWORK }) };
  }

  it("refuses a payment outside the key's policy at /verify and /settle without one RPC request, and settles one within it", async () => {
    const { fac, proxy } = await facilitatorBehindProxy(keys(lab.chain.usdc.address));
    const cases = [
      {
        rule: "payTo",
        key: SHOP_KEY,
        p: await fundedPayment(lab.chain, { payTo: otherPayTo, value: PRICE }),
        reason: "policy_payto_not_allowed",
      },
      {
        rule: "network",
        key: MAINNET_KEY,
        p: await fundedPayment(lab.chain, { payTo: allowedPayTo, value: PRICE }),
        reason: "policy_network_not_allowed",
      },
      { rule: "asset", key: SHOP_KEY, p: await paymentInOtherAsset(), reason: "policy_asset_not_allowed" },
      {
        rule: "maxAmount",
        key: SHOP_KEY,
        p: await fundedPayment(lab.chain, { payTo: allowedPayTo, value: PRICE + 1n }),
        reason: "policy_amount_above_limit",
      },
    ];
    const payToBefore = await lab.chain.balanceOf(allowedPayTo);
    for (const { rule, key, p, reason } of cases) {
      const before = proxy.requests;
      const verified = await post(fac.url, "/verify", p.body, key);
      expect(verified.status, rule).toBe(200);
      expect(verified.json, rule).toMatchObject({ isValid: false, invalidReason: reason, payer: p.buyer.address });
      const settled = await post(fac.url, "/settle", p.body, key);
      expect(settled.status, rule).toBe(200);
      expect(settled.json, rule).toMatchObject({ success: false, errorReason: reason, transaction: "", payer: p.buyer.address });
      expect(proxy.requests - before, `RPC requests the api sent for the ${rule} refusal`).toBe(0);
      expect(await rowsOf(fac, p.buyer.address), rule).toEqual([]);
      expect(await usesOf(lab.chain, p.buyer.address, p.authorization.nonce), rule).toEqual([]);
    }
    expect(await lab.chain.balanceOf(allowedPayTo)).toBe(payToBefore);

    // Within every rule of the same key: verified (on chain, through the same proxy) and settled.
    const ok = await fundedPayment(lab.chain, { payTo: allowedPayTo, value: PRICE });
    const before = proxy.requests;
    expect((await post(fac.url, "/verify", ok.body, SHOP_KEY)).json).toEqual({ isValid: true, payer: ok.buyer.address });
    expect(proxy.requests - before, "a verify that passes the policy does reach the chain").toBeGreaterThan(0);
    const settled = await post(fac.url, "/settle", ok.body, SHOP_KEY);
    expect(settled.json).toMatchObject({ success: true, transaction: expect.stringMatching(TX_HASH), network: NETWORK });
    expect(await usesOf(lab.chain, ok.buyer.address, ok.authorization.nonce)).toEqual([settled.json.transaction]);
    expect(await lab.chain.balanceOf(allowedPayTo)).toBe(payToBefore + PRICE);
    expect(await rowsOf(fac, ok.buyer.address)).toMatchObject([{ api_key_id: "shop" }]);
  });

  it("the official middleware with a restricted key answers the official client 402 for a payTo it may not use; nothing moves", async () => {
    const { fac, proxy } = await facilitatorBehindProxy(keys(lab.chain.usdc.address));
    const merchant = await startV2Merchant({ facilitatorUrl: fac.url, payTo: otherPayTo, apiKey: SHOP_KEY });
    try {
      const buyer = fresh();
      await lab.chain.fund(buyer.address, "1");
      const [buyerBefore, payToBefore] = [await lab.chain.balanceOf(buyer.address), await lab.chain.balanceOf(otherPayTo)];
      const before = proxy.requests;
      const a = await pay("@x402/fetch@2", merchant.paidUrl, buyer, lab.chain.rpcUrl);
      expect(a.status, JSON.stringify(a.body)).toBe(402);
      expect(a.reason).toBe("policy_payto_not_allowed");
      expect(a.paymentHeaderName, "the client did sign and send a payment").toBe("PAYMENT-SIGNATURE");
      expect(merchant.handled()).toBe(0);
      expect(proxy.requests - before).toBe(0);
      expect([await lab.chain.balanceOf(buyer.address), await lab.chain.balanceOf(otherPayTo)]).toEqual([buyerBefore, payToBefore]);
      expect(await rowsOf(fac, buyer.address)).toEqual([]);
    } finally {
      await merchant.close();
    }
  });
});

describe("rate limits across two api processes sharing Redis", () => {
  const LIMITED_KEY = "limited-key-0123456789ab";
  const NEIGHBOUR_KEY = "neighbour-key-0123456789";
  const LIMIT = 5;
  let apis: FacilitatorProcess[] = [];

  afterEach(async () => {
    await Promise.all(apis.map((a) => a.kill()));
    apis = [];
  });
  afterAll(() => killAllProcesses());

  it("lets at most the key's limit through per window in total, answers the rest 429 with Retry-After, and never limits health", async () => {
    const env = testEnv(lab.chain, {
      DATABASE_URL: await createTestDatabase(),
      QUEUE_PREFIX: `${inject("redisPrefix")}:${randomBytes(3).toString("hex")}`,
      RELAYER_ADDRESSES: relayer,
      // Callers without a key are limited too: the health probes must still get through.
      RATE_LIMIT_PER_SECOND: "2",
      API_KEYS_FILE: keysFile([
        { id: "limited", key: LIMITED_KEY, rateLimit: { perSecond: LIMIT } },
        { id: "neighbour", key: NEIGHBOUR_KEY, rateLimit: { perSecond: LIMIT } },
      ]),
    });
    apis = [spawnMode("api", env), spawnMode("api", env)];
    await Promise.all(apis.map((a) => a.ready(60_000)));
    const urls = apis.map((a) => /"url":"(http:\/\/[^"]+)"/.exec(a.output())![1]!);
    const p = await fundedPayment(lab.chain, { payTo: fresh().address, value: PRICE });
    const verifyOn = (i: number, key: string) => post(urls[i % 2]!, "/verify", p.body, key);

    // A burst over a fresh key, half to each process, all within the key's first window.
    const started = Date.now();
    const burst = await Promise.all(Array.from({ length: 16 }, (_, i) => verifyOn(i, LIMITED_KEY)));
    const tookMs = Date.now() - started;
    expect(tookMs, "the burst fits in one window (otherwise the count below spans two)").toBeLessThan(1000);
    const passed = burst.filter((a) => a.status === 200);
    const limited = burst.filter((a) => a.status === 429);
    expect(passed.length + limited.length, JSON.stringify(burst.map((a) => a.status))).toBe(burst.length);
    expect(passed.length).toBe(LIMIT);
    for (const a of passed) expect(a.json).toEqual({ isValid: true, payer: p.buyer.address });
    // Both processes turned requests away: each saw the other's count, not only its own.
    expect(new Set(limited.map((a) => burst.indexOf(a) % 2)).size).toBe(2);
    for (const a of limited) {
      expect(a.headers.get("content-type")).toMatch(/^application\/json/);
      expect(a.json).toEqual({ error: "rate_limited", message: `more than ${LIMIT} requests in 1 second; retry in 1 s` });
      expect(Number(a.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    }

    // While the key is over its limit: health probes (with its key or none) and another key pass.
    const health = await Promise.all(
      Array.from({ length: 20 }, (_, i) => call(urls[i % 2]!, "GET", "/healthz", i % 4 < 2 ? { key: LIMITED_KEY } : {})),
    );
    expect(health.map((a) => a.status)).toEqual(health.map(() => 200));
    const neighbour = await Promise.all(Array.from({ length: LIMIT }, (_, i) => verifyOn(i, NEIGHBOUR_KEY)));
    expect(neighbour.map((a) => a.status)).toEqual(neighbour.map(() => 200));
    expect((await verifyOn(0, LIMITED_KEY)).status, "the limited key is still over its limit").toBe(429);

    // A client that waits as long as Retry-After says gets through.
    const refused = await verifyOn(1, LIMITED_KEY);
    expect(refused.status).toBe(429);
    await sleep(Number(refused.headers.get("retry-after")) * 1000);
    const retried = await verifyOn(1, LIMITED_KEY);
    expect(retried.status).toBe(200);
    expect(retried.json).toEqual({ isValid: true, payer: p.buyer.address });

    // A steady flood from both processes over several windows: never more than the limit per window.
    await sleep(1100);
    const floodStart = Date.now();
    const flood: Answer[] = [];
    while (Date.now() - floodStart < 2_500) {
      flood.push(...(await Promise.all([0, 1, 2, 3].map((i) => verifyOn(i, LIMITED_KEY)))));
      await sleep(40);
    }
    const windows = Math.floor((Date.now() - floodStart) / 1000) + 1;
    const floodPassed = flood.filter((a) => a.status === 200).length;
    expect(flood.every((a) => a.status === 200 || a.status === 429)).toBe(true);
    expect(floodPassed, `${flood.length} requests over ${windows} windows`).toBeLessThanOrEqual(LIMIT * windows);
    expect(floodPassed).toBeGreaterThanOrEqual(LIMIT * (windows - 1));
  });
});

describe("payer failure budget", () => {
  /** A signature from someone else over an authorization naming `payer`: it can never verify. */
  async function forged(payer: Address, payTo: Address) {
    const signed = await signAuthorization({
      payer: fresh(),
      payTo,
      value: PRICE,
      asset: lab.chain.usdc.address,
      chainId: lab.chain.chainId,
    });
    const authorization = { ...signed.authorization, from: payer };
    return v2Body({ authorization, signature: signed.signature, asset: lab.chain.usdc.address, payTo, amount: PRICE, network: NETWORK });
  }

  const paymentOf = async (payer: PrivateKeyAccount, payTo: Address) => {
    const signed = await signAuthorization({ payer, payTo, value: PRICE, asset: lab.chain.usdc.address, chainId: lab.chain.chainId });
    return { ...signed, body: v2Body({ ...signed, asset: lab.chain.usdc.address, payTo, amount: PRICE, network: NETWORK }) };
  };

  it("stops a payer after its third failed payment, before any RPC, while other payers go on; forged signatures do not count", async () => {
    const { fac, proxy } = await facilitatorBehindProxy([{ id: "open", key: OPEN_KEY }], { PAYER_FAILURE_BUDGET: "3" });
    const payTo = fresh().address;
    const [x, y, z] = [fresh(), fresh(), fresh()];
    await lab.chain.fund(y.address, "1");
    await lab.chain.fund(z.address, "1");
    // The budget is counted per clock minute: start early in one so the whole test stays in it.
    const intoMinute = Date.now() % 60_000;
    if (intoMinute > 45_000) await sleep(60_000 - intoMinute + 100);

    const ySettles = async () => {
      const p = await paymentOf(y, payTo);
      expect((await post(fac.url, "/verify", p.body, OPEN_KEY)).json).toEqual({ isValid: true, payer: y.address });
      const s = await post(fac.url, "/settle", p.body, OPEN_KEY);
      expect(s.json).toMatchObject({ success: true, transaction: expect.stringMatching(TX_HASH) });
      expect(await usesOf(lab.chain, y.address, p.authorization.nonce)).toEqual([s.json.transaction]);
    };

    // x holds nothing: each of its payments fails verification on chain, and counts.
    for (let i = 0; i < 3; i++) {
      const failing = await post(fac.url, "/verify", (await paymentOf(x, payTo)).body, OPEN_KEY);
      expect(failing.json).toMatchObject({ isValid: false, invalidReason: "invalid_exact_evm_insufficient_balance", payer: x.address });
      await ySettles();
    }
    const before = proxy.requests;
    const stopped = await post(fac.url, "/verify", (await paymentOf(x, payTo)).body, OPEN_KEY);
    expect(stopped.json).toMatchObject({ isValid: false, invalidReason: "payer_failure_budget_exceeded", payer: x.address });
    expect(stopped.json.invalidMessage).toMatch(/retry in \d+ s/);
    const xSettle = await post(fac.url, "/settle", (await paymentOf(x, payTo)).body, OPEN_KEY);
    expect(xSettle.json).toMatchObject({ success: false, errorReason: "payer_failure_budget_exceeded", transaction: "" });
    expect(proxy.requests - before, "RPC requests the api sent for a payer over its budget").toBe(0);
    expect(await rowsOf(fac, x.address)).toEqual([]);
    await ySettles();

    // Anyone can name z in a forged payment; many of them still leave z's own payments alone.
    for (let i = 0; i < 10; i++) {
      const f = await forged(z.address, payTo);
      const answer = i % 2 ? await post(fac.url, "/settle", f, OPEN_KEY) : await post(fac.url, "/verify", f, OPEN_KEY);
      const reason = answer.json.invalidReason ?? answer.json.errorReason;
      expect(reason, JSON.stringify(answer.json)).toBe("invalid_exact_evm_signature");
    }
    const genuine = await paymentOf(z, payTo);
    expect((await post(fac.url, "/verify", genuine.body, OPEN_KEY)).json).toEqual({ isValid: true, payer: z.address });
    const zSettled = await post(fac.url, "/settle", genuine.body, OPEN_KEY);
    expect(zSettled.json).toMatchObject({ success: true, transaction: expect.stringMatching(TX_HASH) });
    expect(await usesOf(lab.chain, z.address, genuine.authorization.nonce)).toEqual([zSettled.json.transaction]);
  });
});

describe("daily gas budget", () => {
  const METERED_KEY = "metered-key-0123456789ab";

  /**
   * Gas a lone settlement uses, measured on a transfer of the same shape (a funded payer, a payTo
   * that never held the token) sent directly: the facilitator's own differs only by calldata bytes.
   */
  async function gasOfOneTransfer(): Promise<bigint> {
    const buyer = fresh();
    await lab.chain.fund(buyer.address, "1");
    const { authorization: a, signature } = await signAuthorization({
      payer: buyer,
      payTo: fresh().address,
      value: PRICE,
      asset: lab.chain.usdc.address,
      chainId: lab.chain.chainId,
    });
    const hash = await sendTx(
      lab.chain.rpcUrl,
      ANVIL_KEYS[1],
      lab.chain.usdc.address,
      encodeFunctionData({
        abi: fiatTokenAbi,
        functionName: "transferWithAuthorization",
        args: [a.from, a.to, BigInt(a.value), BigInt(a.validAfter), BigInt(a.validBefore), a.nonce, signature],
      }),
    );
    return (await lab.chain.client.getTransactionReceipt({ hash })).gasUsed;
  }

  it("meters each receipt to its key, refuses the key's new settlements once the day's budget is spent, and leaves other keys alone", async () => {
    const tip = await lab.chain.client.estimateMaxPriorityFeePerGas();
    const gas = await gasOfOneTransfer();
    // Just under what one settlement costs (its gas at no less than the tip): the first one crosses it.
    const budget = (gas * tip * 99n) / 100n;
    const { fac } = await facilitatorBehindProxy([
      { id: "metered", key: METERED_KEY, dailyGasBudgetWei: budget.toString() },
      { id: "open", key: OPEN_KEY },
    ]);
    const keysNow = async () => (await fac.admin("/keys")).json.items as any[];
    expect(await keysNow()).toEqual([
      { id: "metered", dailyGasBudgetWei: budget.toString(), gasSpentTodayWei: "0", gasBudgetSpent: false },
      { id: "open", gasSpentTodayWei: "0", gasBudgetSpent: false },
    ]);

    const first = await fundedPayment(lab.chain, { payTo: fresh().address, value: PRICE });
    const settled = await post(fac.url, "/settle", first.body, METERED_KEY);
    expect(settled.json).toMatchObject({ success: true, transaction: expect.stringMatching(TX_HASH) });
    const receipt = await lab.chain.client.getTransactionReceipt({ hash: settled.json.transaction as Hex });
    const cost = receipt.gasUsed * receipt.effectiveGasPrice;
    expect(cost, `one settlement's cost ${cost} crosses the budget ${budget}`).toBeGreaterThanOrEqual(budget);
    expect(cost, "and the budget is not far below it").toBeLessThan((budget * 3n) / 2n);

    // The api reads the day's spend at most a couple of seconds stale.
    const metered = await waitUntil(
      async () => (await keysNow()).find((k) => k.id === "metered"),
      (k) => k?.gasBudgetSpent === true,
      5_000,
      "GET /keys shows the metered key's budget spent",
    );
    expect(metered).toEqual({
      id: "metered",
      dailyGasBudgetWei: budget.toString(),
      gasSpentTodayWei: cost.toString(),
      gasBudgetSpent: true,
    });

    const nonceBefore = await relayerNonce(lab.chain, relayer);
    const second = await fundedPayment(lab.chain, { payTo: fresh().address, value: PRICE });
    const refused = await post(fac.url, "/settle", second.body, METERED_KEY);
    expect(refused.status).toBe(200);
    expect(refused.json).toMatchObject({
      success: false,
      errorReason: "policy_gas_budget_spent",
      transaction: "",
      payer: second.buyer.address,
    });
    expect(await rowsOf(fac, second.buyer.address)).toEqual([]);
    expect(await usesOf(lab.chain, second.buyer.address, second.authorization.nonce)).toEqual([]);
    expect(await relayerNonce(lab.chain, relayer)).toBe(nonceBefore);
    // Verifying costs no gas: the spent budget does not stop it.
    expect((await post(fac.url, "/verify", second.body, METERED_KEY)).json).toEqual({ isValid: true, payer: second.buyer.address });

    const other = await fundedPayment(lab.chain, { payTo: fresh().address, value: PRICE });
    const otherSettled = await post(fac.url, "/settle", other.body, OPEN_KEY);
    expect(otherSettled.json).toMatchObject({ success: true, transaction: expect.stringMatching(TX_HASH) });

    const [firstRow] = await waitUntil(
      () => rowsOf(fac, first.buyer.address),
      (rows) => rows[0]?.state === "confirmed",
      20_000,
      "the settlement that crossed the budget is confirmed",
    );
    expect(firstRow).toMatchObject({ api_key_id: "metered", settled_tx: settled.json.transaction });
    const [otherRow] = await rowsOf(fac, other.buyer.address);

    const listed = async (key: string) => (await fac.admin(`/settlements?apiKey=${key}`)).json.items as any[];
    expect((await listed("metered")).map((s) => [s.id, s.apiKeyId, s.transaction])).toEqual([
      [firstRow!.id, "metered", settled.json.transaction],
    ]);
    expect((await listed("open")).map((s) => [s.id, s.apiKeyId])).toEqual([[otherRow!.id, "open"]]);
    expect(await listed("nobody")).toEqual([]);
  });
});
