// Malformed bodies are refused with a 400 and a JSON error naming the field: never a 5xx, never
// coerced into something plausible.
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ANVIL_KEYS } from "../src/devnet/anvil.js";
import { startTestApi } from "./support/api.js";
import { startTestChain, type TestChain } from "./support/chain.js";
import { signAuthorization, v2Body } from "./support/payments.js";

let chain: TestChain;
let api: Awaited<ReturnType<typeof startTestApi>>;
let valid: ReturnType<typeof v2Body>;

beforeAll(async () => {
  chain = await startTestChain();
  api = await startTestApi(chain);
  const buyer = privateKeyToAccount(ANVIL_KEYS[2]);
  const payTo = privateKeyToAccount(ANVIL_KEYS[3]).address;
  const signed = await signAuthorization({ payer: buyer, payTo, value: 1000n, asset: chain.usdc.address, chainId: chain.chainId });
  valid = v2Body({ ...signed, asset: chain.usdc.address, payTo, amount: 1000n, network: "eip155:84532" });
});

afterAll(async () => {
  await api?.close();
  await chain?.stop();
});

const clone = () => JSON.parse(JSON.stringify(valid));
const withAuth = (field: string, value: unknown) => () => {
  const b = clone();
  b.paymentPayload.payload.authorization[field] = value;
  return b;
};

const TWO_POW_256 = (1n << 256n).toString();

type Case = [name: string, body: () => unknown, field?: RegExp];
const cases: Case[] = [
  ["missing paymentPayload", () => ({ x402Version: 2, paymentRequirements: clone().paymentRequirements }), /^paymentPayload$/],
  ["missing paymentRequirements", () => ({ x402Version: 2, paymentPayload: clone().paymentPayload }), /^paymentRequirements$/],
  [
    "missing authorization.value",
    () => {
      const b = clone();
      delete b.paymentPayload.payload.authorization.value;
      return b;
    },
    /authorization\.value$/,
  ],
  ["value as a JSON number", withAuth("value", 1000), /authorization\.value$/],
  [
    "value as a huge JSON number",
    () => JSON.parse(JSON.stringify(clone()).replace('"value":"1000"', '"value":10000000000000000001')),
    /authorization\.value$/,
  ],
  ["value of 2^256", withAuth("value", TWO_POW_256), /authorization\.value$/],
  ["negative value", withAuth("value", "-5"), /authorization\.value$/],
  ["hex value", withAuth("value", "0x3e8"), /authorization\.value$/],
  ["79-digit value", withAuth("value", "1" + "0".repeat(78)), /authorization\.value$/],
  ["value with spaces", withAuth("value", " 1000 "), /authorization\.value$/],
  ["empty value", withAuth("value", ""), /authorization\.value$/],
  ["value with a leading zero", withAuth("value", "01000"), /authorization\.value$/],
  ["validBefore as a number", withAuth("validBefore", 9999999999), /authorization\.validBefore$/],
  ["short nonce", withAuth("nonce", "0x1234"), /authorization\.nonce$/],
  ["from is not an address", withAuth("from", "0xnothex"), /authorization\.from$/],
  ["unknown field in authorization", withAuth("extra", "1"), /authorization$/],
  [
    "signature too long",
    () => {
      const b = clone();
      b.paymentPayload.payload.signature = "0x" + "ab".repeat(4097);
      return b;
    },
    /payload\.signature$/,
  ],
  [
    "signature of odd length",
    () => {
      const b = clone();
      b.paymentPayload.payload.signature += "a";
      return b;
    },
    /payload\.signature$/,
  ],
  [
    "amount as a number",
    () => {
      const b = clone();
      b.paymentRequirements.amount = 1000;
      return b;
    },
    /paymentRequirements\.amount$/,
  ],
  [
    "maxTimeoutSeconds as a string",
    () => {
      const b = clone();
      b.paymentRequirements.maxTimeoutSeconds = "60";
      return b;
    },
    /maxTimeoutSeconds$/,
  ],
  [
    "payTo not an address",
    () => {
      const b = clone();
      b.paymentRequirements.payTo = "merchant";
      return b;
    },
    /paymentRequirements\.payTo$/,
  ],
  [
    "x402Version 3",
    () => {
      const b = clone();
      b.paymentPayload.x402Version = 3;
      return b;
    },
    /x402Version$/,
  ],
  ["top-level version disagrees with the payload", () => ({ ...clone(), x402Version: 1 }), /^x402Version$/],
  ["unknown top-level field", () => ({ ...clone(), surprise: true }), /\(body\)|^$/],
  ["array body", () => [clone()], /\(body\)/],
  ["null body", () => null, /\(body\)/],
  ["string body", () => "hello", /\(body\)/],
];

// Bodies that never reach JSON.parse's output as objects: sent as raw text.
const rawCases: [string, () => string][] = [
  ["__proto__ key", () => JSON.stringify(clone()).replace("{", '{"__proto__":{"isAdmin":true},')],
  ["constructor.prototype key", () => JSON.stringify(clone()).replace("{", '{"constructor":{"prototype":{"x":1}},')],
  ["invalid JSON", () => '{"x402Version":2,'],
  ["oversized body (20 KiB)", () => JSON.stringify({ ...clone(), pad: "x".repeat(20 * 1024) })],
];

describe.each(["/verify"])("malformed bodies to %s", (url) => {
  it.each(cases)("%s → 400 naming the field", async (_name, make, field) => {
    const res = await api.app.inject({
      method: "POST",
      url,
      payload: JSON.stringify(make()),
      headers: { "content-type": "application/json" },
    });
    expect(res.statusCode).toBe(400);
    const json = res.json();
    expect(json.error).toBe("invalid_request");
    expect(json.isValid).toBe(false);
    if (field) expect(json.field).toMatch(field);
  });

  it.each(rawCases)("%s → 400", async (_name, make) => {
    const res = await api.app.inject({ method: "POST", url, payload: make(), headers: { "content-type": "application/json" } });
    expect(res.statusCode).toBe(400);
    expect(typeof res.json().error).toBe("string");
  });

  it("a valid body still passes (the table above is not rejecting everything)", async () => {
    const res = await api.app.inject({ method: "POST", url, payload: valid });
    expect(res.statusCode).toBe(200);
  });
});
