// What happens to a claimed authorization when the world moves before the worker sends it:
// the payer cancels, someone else relays it first, the balance is drained, blocks are slow,
// or Postgres is gone.
import { encodeFunctionData, parseSignature, parseUnits, type Address, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import { ANVIL_KEYS } from "../src/devnet/anvil.js";
import { sendTx } from "../src/devnet/contracts.js";
import { fiatTokenAbi } from "../src/devnet/usdc.js";
import { startTestApi } from "./support/api.js";
import { relayerNonce, usesOf } from "./support/chain-facts.js";
import { startFacilitator } from "./support/facilitator.js";
import { useLab } from "./support/lab.js";
import { signAuthorization, v2Body } from "./support/payments.js";

const relayer = privateKeyToAccount(ANVIL_KEYS[0]).address;
const payTo = privateKeyToAccount(ANVIL_KEYS[3]).address;
const PRICE = 40_000n;

const lab = useLab();

async function buyerWith(usdc: string) {
  const buyer = privateKeyToAccount(generatePrivateKey());
  await lab.chain.fund(buyer.address, usdc);
  return buyer;
}

async function pay(buyer: PrivateKeyAccount) {
  const signed = await signAuthorization({ payer: buyer, payTo, value: PRICE, asset: lab.chain.usdc.address, chainId: lab.chain.chainId });
  return { ...signed, body: v2Body({ ...signed, asset: lab.chain.usdc.address, payTo, amount: PRICE, network: "eip155:84532" }) };
}

async function rowOf(nonce: Hex) {
  const res = await lab.fac!.admin(`/settlements?limit=500`);
  return res.json.items.find((r: { nonce: string }) => r.nonce === nonce.toLowerCase());
}

async function waitForState(nonce: Hex, states: string[], timeoutMs = 20_000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const row = await rowOf(nonce);
    if ((row && states.includes(row.state)) || Date.now() > end) return row;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Claimed by the api while no worker runs: the answer can only be "pending", never a failure. */
async function claimWithoutWorker(body: unknown) {
  lab.fac = await startFacilitator(lab.chain, { SETTLE_WAIT_MS: "300" }, { worker: false });
  const res = await lab.fac.settle(body);
  expect(res.json).toMatchObject({ success: false, errorReason: "settlement_pending", transaction: "" });
  return res;
}

describe("between claim and send", () => {
  it("payer cancels the authorization: the row ends canceled and nothing is reported paid", async () => {
    const buyer = await buyerWith("1");
    const p = await pay(buyer);
    await claimWithoutWorker(p.body);
    const cancelSig = parseSignature(
      await buyer.signTypedData({
        domain: { name: "USDC", version: "2", chainId: lab.chain.chainId, verifyingContract: lab.chain.usdc.address },
        types: {
          CancelAuthorization: [
            { name: "authorizer", type: "address" },
            { name: "nonce", type: "bytes32" },
          ],
        },
        primaryType: "CancelAuthorization",
        message: { authorizer: buyer.address, nonce: p.authorization.nonce },
      }),
    );
    await sendTx(
      lab.chain.rpcUrl,
      ANVIL_KEYS[4],
      lab.chain.usdc.address,
      encodeFunctionData({
        abi: fiatTokenAbi,
        functionName: "cancelAuthorization",
        args: [buyer.address, p.authorization.nonce, Number(cancelSig.v), cancelSig.r, cancelSig.s],
      }),
    );
    const nonceBefore = await relayerNonce(lab.chain, relayer);
    await lab.fac!.startWorker();
    const row = await waitForState(p.authorization.nonce, ["canceled"]);
    expect(row).toMatchObject({ state: "canceled", errorReason: "authorization_canceled", transaction: null });
    expect((await lab.fac!.settle(p.body)).json).toMatchObject({ success: false, errorReason: "authorization_canceled" });
    expect(await lab.chain.balanceOf(buyer.address)).toBe(parseUnits("1", 6));
    expect(await usesOf(lab.chain, buyer.address, p.authorization.nonce)).toEqual([]);
    expect(await relayerNonce(lab.chain, relayer)).toBe(nonceBefore);
  });

  it("another account relays the same authorization first: confirmed, settled_by external, answered as paid", async () => {
    const buyer = await buyerWith("1");
    const p = await pay(buyer);
    await claimWithoutWorker(p.body);
    const a = p.authorization;
    const external = await sendTx(
      lab.chain.rpcUrl,
      ANVIL_KEYS[4],
      lab.chain.usdc.address,
      encodeFunctionData({
        abi: fiatTokenAbi,
        functionName: "transferWithAuthorization",
        args: [a.from, a.to, BigInt(a.value), BigInt(a.validAfter), BigInt(a.validBefore), a.nonce, p.signature],
      }),
    );
    const nonceBefore = await relayerNonce(lab.chain, relayer);
    await lab.fac!.startWorker();
    const row = await waitForState(a.nonce, ["confirmed"]);
    expect(row).toMatchObject({ state: "confirmed", settledBy: "external", transaction: external });
    expect((await lab.fac!.settle(p.body)).json).toEqual({
      success: true,
      payer: buyer.address,
      transaction: external,
      network: "eip155:84532",
    });
    expect(await usesOf(lab.chain, buyer.address, a.nonce)).toEqual([external]);
    expect(await relayerNonce(lab.chain, relayer)).toBe(nonceBefore);
  });

  it("balance drained after the claim: failed with insufficient_balance, no transaction sent", async () => {
    const buyer = await buyerWith("1");
    const p = await pay(buyer);
    await claimWithoutWorker(p.body);
    await lab.chain.test.setBalance({ address: buyer.address, value: parseUnits("1", 18) });
    await lab.chain.test.impersonateAccount({ address: buyer.address });
    const drain = encodeFunctionData({ abi: fiatTokenAbi, functionName: "transfer", args: [payTo as Address, parseUnits("1", 6)] });
    const hash = (await lab.chain.test.request({
      method: "eth_sendTransaction",
      params: [{ from: buyer.address, to: lab.chain.usdc.address, data: drain }],
    } as never)) as Hex;
    await lab.chain.client.waitForTransactionReceipt({ hash });
    const nonceBefore = await relayerNonce(lab.chain, relayer);
    await lab.fac!.startWorker();
    const row = await waitForState(p.authorization.nonce, ["failed"]);
    expect(row).toMatchObject({ state: "failed", errorReason: "invalid_exact_evm_insufficient_balance" });
    expect((await lab.fac!.settle(p.body)).json).toMatchObject({
      success: false,
      errorReason: "invalid_exact_evm_insufficient_balance",
      transaction: "",
    });
    expect(await relayerNonce(lab.chain, relayer)).toBe(nonceBefore);
  });
});

describe("slow chain", () => {
  it("with automine off, /settle answers settlement_pending with the hash in time; after mining the retry is a success with that hash", async () => {
    const buyer = await buyerWith("1");
    const p = await pay(buyer);
    lab.fac = await startFacilitator(lab.chain, { SETTLE_WAIT_MS: "1500" });
    await lab.chain.test.setAutomine(false);
    const started = Date.now();
    const first = await lab.fac.settle(p.body);
    const elapsed = Date.now() - started;
    expect(first.json).toMatchObject({ success: false, errorReason: "settlement_pending", network: "eip155:84532" });
    expect(first.json.transaction).toMatch(/^0x[0-9a-f]{64}$/);
    expect(elapsed).toBeLessThan(1500 + 1500);
    expect(await usesOf(lab.chain, buyer.address, p.authorization.nonce)).toEqual([]);
    await lab.chain.test.mine({ blocks: 1 });
    const retry = await lab.fac.settle(p.body);
    expect(retry.json).toEqual({ success: true, payer: buyer.address, transaction: first.json.transaction, network: "eip155:84532" });
    expect(await usesOf(lab.chain, buyer.address, p.authorization.nonce)).toEqual([first.json.transaction]);
  });
});

describe("answers the official middleware can act on", () => {
  it("never answers settlement_pending without a hash while the worker is only late", async () => {
    const buyer = await buyerWith("1");
    const p = await pay(buyer);
    lab.fac = await startFacilitator(lab.chain, { SETTLE_WAIT_MS: "200", SETTLE_MAX_WAIT_MS: "20000" }, { worker: false });
    const answer = lab.fac.settle(p.body);
    await new Promise((r) => setTimeout(r, 1500));
    await lab.fac.startWorker();
    const res = await answer;
    expect(res.json.transaction).toMatch(/^0x[0-9a-f]{64}$/);
    expect(res.json.success === true || res.json.errorReason === "settlement_pending").toBe(true);
  });

  it("replays a stored result only to the API key that asked for it", async () => {
    const buyer = await buyerWith("1");
    const p = await pay(buyer);
    lab.fac = await startFacilitator(lab.chain, { API_KEYS: "merchant-a-key,merchant-b-key" });
    const post = (key: string) =>
      fetch(`${lab.fac!.url}/settle`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
        body: JSON.stringify(p.body),
      }).then((r) => r.json());
    const first = await post("merchant-a-key");
    expect(first).toMatchObject({ success: true });
    expect(await post("merchant-a-key")).toMatchObject({
      success: false,
      errorReason: "invalid_exact_evm_nonce_already_used",
      transaction: first.transaction,
    });
    expect(await post("merchant-b-key")).toMatchObject({
      success: false,
      errorReason: "duplicate_settlement",
      transaction: first.transaction,
    });
    expect(await usesOf(lab.chain, buyer.address, p.authorization.nonce)).toEqual([first.transaction]);
  });
});

describe("Postgres unreachable", () => {
  it("/settle answers 503 with a JSON error and nothing is broadcast", async () => {
    const buyer = await buyerWith("1");
    const p = await pay(buyer);
    const api = await startTestApi(lab.chain, { DATABASE_URL: "postgres://postgres@127.0.0.1:1/none" });
    try {
      const nonceBefore = await relayerNonce(lab.chain, relayer);
      const res = await api.app.inject({ method: "POST", url: "/settle", payload: p.body });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({ error: "database_unavailable" });
      expect(res.json().success).toBeUndefined();
      expect(await relayerNonce(lab.chain, relayer)).toBe(nonceBefore);
      expect(await usesOf(lab.chain, buyer.address, p.authorization.nonce)).toEqual([]);
    } finally {
      await api.close();
    }
  });
});
