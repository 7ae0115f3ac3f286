// /settle through the ledger and the worker, against the real USDC contract on anvil.
import { privateKeyToAccount } from "viem/accounts";
import { generatePrivateKey } from "viem/accounts";
import { encodeFunctionData, parseUnits, type Address } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ANVIL_KEYS } from "../src/devnet/anvil.js";
import { fiatTokenAbi } from "../src/devnet/usdc.js";
import { startTestChain, type TestChain } from "./support/chain.js";
import { relayerNonce, usesOf } from "./support/chain-facts.js";
import { startFacilitator, type TestFacilitator } from "./support/facilitator.js";
import { signAuthorization, v1Body, v2Body } from "./support/payments.js";

let chain: TestChain;
let fac: TestFacilitator;
const relayer = privateKeyToAccount(ANVIL_KEYS[0]).address;
const payTo = privateKeyToAccount(ANVIL_KEYS[3]).address;
const PRICE = 25_000n;

async function newBuyer(usdc = "5") {
  const buyer = privateKeyToAccount(generatePrivateKey());
  await chain.fund(buyer.address, usdc);
  return buyer;
}

async function payment(version: 1 | 2, buyer = privateKeyToAccount(ANVIL_KEYS[2])) {
  const signed = await signAuthorization({ payer: buyer, payTo, value: PRICE, asset: chain.usdc.address, chainId: chain.chainId });
  const body = (version === 1 ? v1Body : v2Body)({
    ...signed,
    asset: chain.usdc.address,
    payTo,
    amount: PRICE,
    network: version === 1 ? "base-sepolia" : "eip155:84532",
  });
  return { body, ...signed, buyer };
}

beforeAll(async () => {
  chain = await startTestChain();
  await chain.fund(privateKeyToAccount(ANVIL_KEYS[2]).address, "100");
  fac = await startFacilitator(chain);
});

afterAll(async () => {
  await fac?.close();
  await chain?.stop();
});

describe.each([1, 2] as const)("happy path v%i", (version) => {
  it("moves exactly the price, answers with the hash, and shows the confirmed row with its history", async () => {
    const buyer = await newBuyer();
    const p = await payment(version, buyer);
    const before = { buyer: await chain.balanceOf(buyer.address), payTo: await chain.balanceOf(payTo) };
    const res = await fac.settle(p.body);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      success: true,
      payer: buyer.address,
      transaction: expect.stringMatching(/^0x[0-9a-f]{64}$/),
      network: version === 1 ? "base-sepolia" : "eip155:84532",
    });
    expect(await chain.balanceOf(buyer.address)).toBe(before.buyer - PRICE);
    expect(await chain.balanceOf(payTo)).toBe(before.payTo + PRICE);
    expect(await usesOf(chain, buyer.address, p.authorization.nonce)).toEqual([res.json.transaction]);

    const found = await fac.admin(`/settlements/by-tx/${res.json.transaction}`);
    expect(found.status).toBe(200);
    const row = found.json;
    // confirmed follows mined within the worker's confirmation step
    const detail = await waitFor(
      async () => (await fac.admin(`/settlements/${row.id}`)).json,
      (d) => d.state === "confirmed",
    );
    expect(detail).toMatchObject({
      state: "confirmed",
      transaction: res.json.transaction,
      settledBy: "self",
      payer: buyer.address.toLowerCase(),
      value: PRICE.toString(),
    });
    expect(detail.events.map((e: { to: string }) => e.to)).toEqual(["received", "queued", "signed", "submitted", "mined", "confirmed"]);
    expect(detail.transactions).toHaveLength(1);
    expect(JSON.stringify(detail)).not.toContain(p.signature.slice(2, 40));

    // Sending it again is answered from the row: the same hash, but not a second delivery of
    // one payment (a replayed header must not be served twice), and nothing new on chain.
    const again = await fac.settle(p.body);
    expect(again.json).toMatchObject({
      success: false,
      errorReason: "invalid_exact_evm_nonce_already_used",
      transaction: res.json.transaction,
      payer: buyer.address,
    });
    expect(await usesOf(chain, buyer.address, p.authorization.nonce)).toHaveLength(1);
  });
});

describe("concurrency", () => {
  it("20 concurrent identical /settle calls: one transaction, one success, the rest told it is spent", async () => {
    const buyer = await newBuyer();
    const p = await payment(2, buyer);
    const nonceBefore = await relayerNonce(chain, relayer);
    const answers = await Promise.all(Array.from({ length: 20 }, () => fac.settle(p.body)));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    const winners = answers.filter((a) => a.json.success);
    expect(winners).toHaveLength(1);
    const first = winners[0]!.json;
    for (const a of answers.filter((x) => !x.json.success)) {
      expect(a.json).toMatchObject({
        success: false,
        errorReason: "invalid_exact_evm_nonce_already_used",
        transaction: first.transaction,
        network: "eip155:84532",
      });
    }
    expect(await usesOf(chain, buyer.address, p.authorization.nonce)).toEqual([first.transaction]);
    expect(await relayerNonce(chain, relayer)).toBe(nonceBefore + 1);
    expect(await chain.balanceOf(buyer.address)).toBe(parseUnits("5", 6) - PRICE);
  });

  it("20 concurrent bodies carrying the same authorization: one transaction, one success, duplicates refused", async () => {
    const buyer = await newBuyer();
    const p = await payment(2, buyer);
    const variants = Array.from({ length: 20 }, (_, i) => {
      const b = structuredClone(p.body) as any;
      b.paymentPayload.resource.description = `variant ${i}`;
      return b;
    });
    const answers = await Promise.all(variants.map((b) => fac.settle(b)));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    const winners = answers.filter((a) => a.json.success);
    expect(winners).toHaveLength(1);
    const losers = answers.filter((a) => !a.json.success);
    for (const l of losers)
      expect(l.json).toMatchObject({ success: false, errorReason: "duplicate_settlement", network: "eip155:84532", payer: buyer.address });
    expect(await usesOf(chain, buyer.address, p.authorization.nonce)).toEqual([winners[0]!.json.transaction]);
    // The winner's body again is answered from its row (spent); a loser's is still a duplicate.
    const winnerBody = variants[answers.indexOf(winners[0]!)];
    expect((await fac.settle(winnerBody)).json).toMatchObject({
      success: false,
      errorReason: "invalid_exact_evm_nonce_already_used",
      transaction: winners[0]!.json.transaction,
    });
    expect((await fac.settle(variants[answers.indexOf(losers[0]!)])).json.errorReason).toBe("duplicate_settlement");
  });
});

describe("failures", () => {
  it('an invalid payment is a failure with transaction "" and network, and leaves no row', async () => {
    const poor = privateKeyToAccount(generatePrivateKey());
    const p = await payment(1, poor);
    const res = await fac.settle(p.body);
    expect(res.json).toEqual({
      success: false,
      errorReason: "invalid_exact_evm_insufficient_balance",
      payer: poor.address,
      transaction: "",
      network: "base-sepolia",
      errorMessage: expect.any(String),
    });
    expect((await fac.admin(`/settlements?payer=${poor.address}`)).json.items).toEqual([]);
  });

  it("balance drained between verify and settle: insufficient_balance, nothing sent", async () => {
    const buyer = await newBuyer("1");
    const p = await payment(2, buyer);
    const v = await fetch(`${fac.url}/verify`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(p.body),
    });
    expect((await v.json()).isValid).toBe(true);
    await drain(buyer);
    const nonceBefore = await relayerNonce(chain, relayer);
    const res = await fac.settle(p.body);
    expect(res.json).toMatchObject({ success: false, errorReason: "invalid_exact_evm_insufficient_balance", transaction: "" });
    expect(await relayerNonce(chain, relayer)).toBe(nonceBefore);
    expect(await usesOf(chain, buyer.address, p.authorization.nonce)).toEqual([]);
  });

  it("a malformed /settle body is a 400 with success:false and changes nothing", async () => {
    const p = await payment(2);
    const bad = structuredClone(p.body) as any;
    bad.paymentPayload.payload.authorization.value = 25000;
    const count = async () => (await fac.sql<{ count: number }[]>`select count(*)::int as count from settlements`)[0]!.count;
    const before = await count();
    const res = await fac.settle(bad);
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({
      success: false,
      errorReason: "invalid_payload",
      transaction: "",
      network: "eip155:84532",
      field: "paymentPayload.payload.authorization.value",
    });
    expect(await count()).toBe(before);
  });
});

describe("operator API", () => {
  it("filters, paginates with a cursor, looks up by authorization, and refuses bad filters and keys", async () => {
    const buyer = await newBuyer();
    const hashes: string[] = [];
    for (let i = 0; i < 3; i++) {
      const p = await payment(2, buyer);
      hashes.push((await fac.settle(p.body)).json.transaction);
    }
    const page1 = await fac.admin(`/settlements?payer=${buyer.address}&limit=2`);
    expect(page1.status).toBe(200);
    expect(page1.json.items).toHaveLength(2);
    const page2 = await fac.admin(`/settlements?payer=${buyer.address}&limit=2&cursor=${page1.json.nextCursor}`);
    expect(page2.json.items).toHaveLength(1);
    const all = [...page1.json.items, ...page2.json.items];
    expect(new Set(all.map((r: { id: string }) => r.id)).size).toBe(3);
    expect(all.map((r: { transaction: string }) => r.transaction).sort()).toEqual([...hashes].sort());

    const byNetwork = await fac.admin(`/settlements?payer=${buyer.address}&network=base-sepolia&status=confirmed`);
    expect(byNetwork.json.items.length).toBeGreaterThan(0);
    const row = all[0];
    const byAuth = await fac.admin(`/settlements/by-authorization?network=eip155:84532&payer=${row.payer}&nonce=${row.nonce}`);
    expect(byAuth.json.items.map((r: { id: string }) => r.id)).toEqual([row.id]);

    for (const q of [
      "status=paid",
      "payer=0x12",
      "limit=0",
      "limit=501",
      "since=yesterday",
      "network=solana",
      "cursor=zzz",
      "colour=red",
    ]) {
      const res = await fac.admin(`/settlements?${q}`);
      expect(res.status, q).toBe(400);
      expect(res.json.error).toBe("invalid_request");
    }
    expect((await fac.admin(`/settlements/not-a-uuid`)).status).toBe(400);
    expect((await fac.admin(`/settlements/00000000-0000-0000-0000-000000000000`)).status).toBe(404);
    expect((await fetch(`${fac.url}/settlements`)).status).toBe(401);
    expect((await fetch(`${fac.url}/settlements`, { headers: { authorization: "Bearer wrong" } })).status).toBe(401);
  });
});

/** The payer spends everything elsewhere (sent as the payer through anvil's impersonation). */
async function drain(buyer: { address: Address }) {
  await chain.test.setBalance({ address: buyer.address, value: parseUnits("1", 18) });
  await chain.test.impersonateAccount({ address: buyer.address });
  const balance = await chain.balanceOf(buyer.address);
  const data = encodeFunctionData({
    abi: fiatTokenAbi,
    functionName: "transfer",
    args: [privateKeyToAccount(ANVIL_KEYS[4]).address, balance],
  });
  const hash = (await chain.test.request({
    method: "eth_sendTransaction",
    params: [{ from: buyer.address, to: chain.usdc.address, data }],
  } as never)) as `0x${string}`;
  await chain.client.waitForTransactionReceipt({ hash });
  await chain.test.stopImpersonatingAccount({ address: buyer.address });
}

export async function waitFor<T>(read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}
