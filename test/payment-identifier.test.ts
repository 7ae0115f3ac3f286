// The payment-identifier extension: a client's own idempotency key. The same id with the same
// request gets the stored answer (every time: the client asked for idempotency); the same id
// with another payment is a conflict and sends nothing; a malformed id is refused. On anvil with
// Circle's real USDC, through our api and worker.
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import { ANVIL_KEYS } from "../src/devnet/anvil.js";
import { useLab } from "./support/lab.js";
import { startFacilitator } from "./support/facilitator.js";
import { signAuthorization, v2Body } from "./support/payments.js";

const payTo = privateKeyToAccount(ANVIL_KEYS[3]).address;
const PRICE = 10_000n;
const lab = useLab();

const withId = <T extends { paymentPayload: Record<string, unknown> }>(body: T, id: string): T => ({
  ...body,
  paymentPayload: { ...body.paymentPayload, extensions: { "payment-identifier": { info: { required: false, id } } } },
});

async function buyerWithTwoPayments() {
  const payer = privateKeyToAccount(generatePrivateKey());
  await lab.chain.fund(payer.address, "1");
  const sign = async (value: bigint) => {
    const signed = await signAuthorization({ payer, payTo, value, asset: lab.chain.usdc.address, chainId: lab.chain.chainId });
    return v2Body({ ...signed, asset: lab.chain.usdc.address, payTo, amount: value, network: "eip155:84532" });
  };
  return { payer, first: await sign(PRICE), second: await sign(PRICE) };
}

const balance = (address: `0x${string}`) => lab.chain.balanceOf(address);

describe("payment-identifier", () => {
  it("is advertised in /supported", async () => {
    lab.fac = await startFacilitator(lab.chain);
    const body = (await (await fetch(`${lab.fac.url}/supported`)).json()) as { extensions: string[] };
    expect(body.extensions).toContain("payment-identifier");
  });

  it("the same id and request: the stored answer each time, one transfer", async () => {
    lab.fac = await startFacilitator(lab.chain);
    const { payer, first } = await buyerWithTwoPayments();
    const body = withId(first, "order-7d3f1c2a-0001");
    const before = await balance(payTo);
    const a = await lab.fac.settle(body);
    expect(a.json).toMatchObject({ success: true });
    const b = await lab.fac.settle(body);
    expect(b.json).toEqual(a.json);
    expect(await balance(payTo)).toBe(before + PRICE);
    const rows = await lab.fac.sql`select payment_id, payer from settlements`;
    expect(rows).toEqual([{ payment_id: "order-7d3f1c2a-0001", payer: payer.address.toLowerCase() }]);
  });

  it("the same id for another payment: a conflict, at /verify and /settle, and nothing sent", async () => {
    lab.fac = await startFacilitator(lab.chain);
    const { first, second } = await buyerWithTwoPayments();
    const id = "order-7d3f1c2a-0002";
    const before = await balance(payTo);
    expect((await lab.fac.settle(withId(first, id))).json).toMatchObject({ success: true });
    const verify = await fetch(`${lab.fac.url}/verify`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(withId(second, id)),
    });
    expect(await verify.json()).toMatchObject({ isValid: false, invalidReason: "payment_identifier_conflict" });
    const again = await lab.fac.settle(withId(second, id));
    expect(again.json).toMatchObject({
      success: false,
      errorReason: "payment_identifier_conflict",
      errorMessage: "this payment identifier was already used for a different payment",
    });
    expect(await balance(payTo)).toBe(before + PRICE);
    expect((await lab.fac.sql`select count(*)::int as n from settlements`)[0]!.n).toBe(1);
    // Without the id the second authorization is its own payment.
    expect((await lab.fac.settle(second)).json).toMatchObject({ success: true });
  });

  it("two different payments racing with one id: one settles, the other is a conflict", async () => {
    lab.fac = await startFacilitator(lab.chain);
    const { first, second } = await buyerWithTwoPayments();
    const id = "order-7d3f1c2a-0003";
    const before = await balance(payTo);
    const answers = await Promise.all([lab.fac.settle(withId(first, id)), lab.fac.settle(withId(second, id))]);
    expect(answers.map((a) => a.json.success ?? false).sort()).toEqual([false, true]);
    expect(answers.find((a) => !a.json.success)!.json.errorReason).toBe("payment_identifier_conflict");
    expect(await balance(payTo)).toBe(before + PRICE);
  });

  it("a malformed id is refused before anything is claimed", async () => {
    lab.fac = await startFacilitator(lab.chain);
    const { first } = await buyerWithTwoPayments();
    for (const id of ["short", "x".repeat(129), "has space in it!!", 42]) {
      const res = await lab.fac.settle(withId(first, id as string));
      expect(res.json).toMatchObject({ success: false, errorReason: "invalid_payment_identifier" });
    }
    expect((await lab.fac.sql`select count(*)::int as n from settlements`)[0]!.n).toBe(0);
  });
});
