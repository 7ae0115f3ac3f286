// Property-based fuzzing of /verify and /settle against a real facilitator (api + worker, ledger,
// relayer). Whatever arrives, the answer is a JSON body and never a 5xx; a body the wire schema
// refuses is a 400 naming the field; and nothing ever reaches the ledger or the chain.
//
// The payments (EIP-3009 on v1 and v2, Permit2, and Solana on the simulated cluster) are signed
// correctly but by a payer holding no USDC: every mutated body can get as far as the chain
// simulation, yet no body, mutated or not, is payable. So any settlement row or relayer transaction is a stray, with no need to decide
// which mutations left the payment intact.
import fc from "fast-check";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BODY_LIMIT_BYTES } from "../src/app.js";
import { ANVIL_KEYS } from "../src/devnet/anvil.js";
import { deployPermit2Stack } from "../src/devnet/permit2.js";
import { Reason } from "../src/x402/reasons.js";
import { relayerNonce } from "./support/chain-facts.js";
import { startTestChain, type TestChain } from "./support/chain.js";
import { startFacilitator, type TestFacilitator } from "./support/facilitator.js";
import { signAuthorization, v1Body, v2Body } from "./support/payments.js";
import { permit2Payment } from "./support/permit2-payments.js";
import { generateKeyPairSigner } from "@solana/kit";
import { generateFeePayerKey, startLocalSolana, type LocalSolana } from "./support/solana.js";
import { officialPayment } from "./support/solana-facilitator.js";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Path = string[];

const relayer = privateKeyToAccount(ANVIL_KEYS[0]).address;
const payTo = privateKeyToAccount(ANVIL_KEYS[3]).address;
const PRICE = 1000n;
const NETWORK = { 1: "base-sepolia", 2: "eip155:84532" } as const;
const ROUTES = ["/verify", "/settle"] as const;
// One fixed seed replays the same cases every run; the random one explores further each run.
const SEEDS = [402, (Math.random() * 2 ** 31) | 0];
const NUM_RUNS = 300;

let chain: TestChain;
let local: LocalSolana;
let fac: TestFacilitator;
let relayerNonceBefore: number;
/** The bodies mutations start from: EIP-3009 on v1 and v2, Permit2 (v2 only), and Solana (v2). */
type Base = 1 | 2 | "permit2" | "svm";
const base = {} as Record<Base, Json>;

beforeAll(async () => {
  chain = await startTestChain();
  // Before the facilitator: placing Permit2 briefly switches the chain id.
  await deployPermit2Stack(chain.rpcUrl);
  // Solana beside the EVM chain: the simulated cluster (LiteSVM behind a JSON-RPC server).
  local = await startLocalSolana({ slotMs: 400 });
  const feePayer = await generateFeePayerKey(local, 1_000_000_000n);
  fac = await startFacilitator(chain, { RPC_URL_SOLANA_DEVNET: local.url, SOLANA_FEE_PAYER_KEY: feePayer.base58 });
  const svmBuyer = await generateKeyPairSigner();
  const svmBody = await officialPayment(local, svmBuyer, {
    scheme: "exact",
    network: local.caip2,
    amount: PRICE.toString(),
    asset: local.usdc,
    payTo: (await generateKeyPairSigner()).address,
    maxTimeoutSeconds: 60,
    extra: { feePayer: feePayer.address },
  });
  base.svm = JSON.parse(JSON.stringify(svmBody));
  const payer = privateKeyToAccount(generatePrivateKey());
  // The same unfunded payer's Permit2 payment (signed for the exact proxy).
  const usdc = { address: chain.usdc.address, name: "USDC", version: "2" };
  const permit2 = await permit2Payment({
    from: payer.address,
    sign: (t) => payer.signTypedData(t),
    token: usdc,
    amount: PRICE,
    payTo,
    chainId: chain.chainId,
  });
  base.permit2 = permit2.body;
  for (const version of [1, 2] as const) {
    const signed = await signAuthorization({ payer, payTo, value: PRICE, asset: chain.usdc.address, chainId: chain.chainId });
    const body = (version === 1 ? v1Body : v2Body)({
      ...signed,
      asset: chain.usdc.address,
      payTo,
      amount: PRICE,
      network: NETWORK[version],
    });
    // A JSON round trip: v2Body shares one object between `accepted` and the requirements.
    base[version] = JSON.parse(JSON.stringify(body));
  }
  relayerNonceBefore = await relayerNonce(chain, relayer);
});

afterAll(async () => {
  await fac?.close();
  await chain?.stop();
  await local?.close();
});

// ---- sending and judging one request ------------------------------------------------------------

async function post(route: string, body: string, contentType: string | undefined) {
  // A Uint8Array body makes fetch send no content-type of its own.
  const res = await fetch(`${fac.url}${route}`, {
    method: "POST",
    body: new TextEncoder().encode(body),
    headers: contentType === undefined ? {} : { "content-type": contentType },
  });
  const text = await res.text();
  const what = `${route} answered ${res.status} ${text.slice(0, 300)}`;
  expect(res.status, what).toBeLessThan(500);
  expect(res.headers.get("content-type"), what).toMatch(/^application\/json/);
  let json: any;
  expect(() => (json = JSON.parse(text)), what).not.toThrow();
  expect(json, what).toBeTypeOf("object");
  if (res.status >= 400) {
    expect(json.error, what).toBeTypeOf("string");
    expect(json.message, what).toBeTypeOf("string");
  }
  return { status: res.status, json, what };
}

/**
 * A wire rejection must read `<field>: <reason>`. After a single mutation, the field named must lie
 * on the mutated path: the field itself, one below it (a replaced object refused at one of its own
 * fields) or one above it (an added key refused by its object; anything inside a value passed
 * along unread, refused as that value).
 */
function expectNamedField(answer: Awaited<ReturnType<typeof post>>, edits: Mutation[] = []) {
  const { status, json, what } = answer;
  if (status !== 400 || json.field === undefined) return;
  expect(json.error, what).toBe("invalid_request");
  expect(json.message.startsWith(`${json.field}: `), what).toBe(true);
  const m = edits.length === 1 ? edits[0]! : undefined;
  // Swapping the version re-reads the whole body under the other shape: any field may be named.
  if (!m || [...m.path, m.kind === "add" ? m.key : ""].includes("x402Version")) return;
  const [field, path] = [`${json.field}.`, `${m.path.join(".")}.`];
  if (path !== ".") expect(field.startsWith(path) || path.startsWith(field), `${what} (mutated ${path})`).toBe(true);
}

// ---- values and mutations -----------------------------------------------------------------------

// JSON.stringify cannot write numbers beyond a double, and deep nesting is cheaper written than
// built: such values stringify to a marked string that is spliced back in as raw JSON text.
const RAW = "\u0001raw:";
class Raw {
  constructor(
    readonly text: string,
    readonly label = text,
  ) {}
  toJSON() {
    return `${RAW}${this.text}`;
  }
  // Keeps a failing counterexample readable.
  [fc.toStringMethod]() {
    return `raw(${this.label})`;
  }
}
const raw = (text: string, label?: string) => new Raw(text, label);
const nested = (depth: number) => raw("[".repeat(depth) + "]".repeat(depth), `${depth} nested arrays`);
const serialize = (v: unknown) => (JSON.stringify(v) ?? "").replace(/"\\u0001raw:([^"]*)"/g, "$1");

const MAX_UINT256 = (1n << 256n) - 1n;
const numberish = fc.constantFrom(
  "1e5",
  "-1",
  "0x10",
  "abc",
  "",
  " 1",
  "1 ",
  "01",
  "1.5",
  "+1",
  "NaN",
  "Infinity",
  "null",
  "true",
  "0x",
  "\u0000",
  "١٢٣",
  "１２３",
  "🦄",
  "\ud800",
  (MAX_UINT256 + 1n).toString(),
  MAX_UINT256.toString(),
  "9".repeat(79),
);
const weird: fc.Arbitrary<unknown> = fc.oneof(
  numberish,
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ minLength: 1000, maxLength: 12_000 }),
  fc.stringMatching(/^0x[0-9a-fA-F]{0,140}$/),
  fc.tuple(fc.bigInt({ min: -(1n << 300n), max: 1n << 300n }), fc.boolean()).map(([n, asNumber]) => (asNumber ? raw(`${n}`) : `${n}`)),
  fc.constantFrom(raw("1e400"), raw("-0"), raw("1.0"), raw("123456789012345678901234567890"), raw("-1e-400")),
  // Thousands of levels fit under the body limit and overflow any recursive walk (the settle
  // request hash was one); weighted up since only fields passed along unread let them through.
  { arbitrary: fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 4000, max: 7000 })).map(nested), weight: 3 },
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined), // dropped by JSON.stringify: deletes the key
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 4 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
);
const keyName = fc.oneof(
  fc.constantFrom("__proto__", "constructor", "prototype", "toString", "hasOwnProperty", "valueOf", "version", "x402Version", ""),
  fc.string({ maxLength: 12 }),
);

/** Every node of a body (objects and leaves), by path; the root is []. */
function nodes(v: Json, at: Path = []): { path: Path; isObject: boolean }[] {
  const isObject = typeof v === "object" && v !== null && !Array.isArray(v);
  const below = isObject ? Object.entries(v).flatMap(([k, child]) => nodes(child, [...at, k])) : [];
  return [{ path: at, isObject }, ...below];
}

type Mutation =
  { kind: "set"; path: Path; value: unknown } | { kind: "delete"; path: Path } | { kind: "add"; path: Path; key: string; value: unknown };

function mutations(body: Json): fc.Arbitrary<Mutation> {
  const all = nodes(body);
  const paths = all.map((n) => n.path);
  const objects = all.filter((n) => n.isObject).map((n) => n.path);
  return fc.oneof(
    fc.record({ kind: fc.constant("set" as const), path: fc.constantFrom(...paths), value: weird }),
    fc.record({ kind: fc.constant("delete" as const), path: fc.constantFrom(...paths.slice(1)) }),
    fc.record({ kind: fc.constant("add" as const), path: fc.constantFrom(...objects), key: keyName, value: weird }),
  );
}

/** Sets an own property even for "__proto__", which plain assignment would turn into a prototype change. */
const define = (obj: object, key: string, value: unknown) =>
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });

function apply(body: unknown, m: Mutation): unknown {
  if (m.path.length === 0 && m.kind === "set") return m.value;
  // An earlier mutation may have replaced the whole body: nothing left to change.
  if (typeof body !== "object" || body === null) return body;
  const copy = JSON.parse(JSON.stringify(body));
  const parentPath = m.kind === "add" ? m.path : m.path.slice(0, -1);
  let parent: any = copy;
  for (const k of parentPath) parent = typeof parent === "object" && parent !== null ? parent[k] : undefined;
  // Or replaced this parent with a scalar.
  if (typeof parent !== "object" || parent === null) return copy;
  if (m.kind === "set") define(parent, m.path.at(-1)!, m.value);
  else if (m.kind === "delete") delete parent[m.path.at(-1)!];
  else define(parent, m.key, m.value);
  return copy;
}

// ---- raw bodies -----------------------------------------------------------------------------------

const contentTypes = fc.constantFrom(
  undefined,
  "application/json",
  "application/json; charset=utf-8",
  "APPLICATION/JSON",
  "application/json; charset=utf-16",
  "text/plain",
  "text/json",
  "application/jsonp",
  "application/x-www-form-urlencoded",
  "application/octet-stream",
  "multipart/form-data; boundary=x",
  "",
  "*/*",
);

function rawBodies(): fc.Arbitrary<string> {
  const text = serialize(base[2]);
  // Prototype keys JSON.stringify would drop: written into the text, at the top and one level down.
  const spliced = fc
    .tuple(fc.constantFrom("__proto__", "constructor", "prototype"), fc.constantFrom('{"x":1}', '{"prototype":{"x":1}}', "1", "null"))
    .chain(([key, value]) =>
      fc.constantFrom(
        text.replace("{", `{"${key}":${value},`),
        text.replace('"paymentRequirements":{', `"paymentRequirements":{"${key}":${value},`),
        text.replace('"authorization":{', `"authorization":{"${key}":${value},`),
      ),
    );
  return fc.oneof(
    fc.constantFrom("", " ", "null", "[]", "{}", '"x"', "0", "true", "{", "}{", "\u0000", "[".repeat(8000)),
    fc.string({ unit: "binary", maxLength: 200 }),
    fc.nat({ max: text.length - 1 }).map((n) => text.slice(0, n)),
    fc
      .tuple(fc.nat({ max: text.length - 1 }), fc.string({ unit: "binary", minLength: 1, maxLength: 3 }))
      .map(([i, s]) => text.slice(0, i) + s + text.slice(i + 1)),
    spliced,
    fc.integer({ min: BODY_LIMIT_BYTES, max: 4 * BODY_LIMIT_BYTES }).map((n) => text.replace("{", `{"pad":"${"x".repeat(n)}",`)),
  );
}

// ---- the properties --------------------------------------------------------------------------------

it("the unmutated bodies are only short of funds: the mutations start from a payment that gets far", async () => {
  for (const version of [1, 2] as const) {
    const { json } = await post("/verify", serialize(base[version]), "application/json");
    expect(json).toMatchObject({ isValid: false, invalidReason: Reason.insufficientBalance });
  }
  const { json } = await post("/verify", serialize(base.permit2), "application/json");
  expect(json).toMatchObject({ isValid: false, invalidReason: "permit2_insufficient_balance" });
  const svm = await post("/verify", serialize(base.svm), "application/json");
  expect(svm.json).toMatchObject({ isValid: false, invalidReason: "invalid_exact_svm_transaction_simulation_failed" });
});

/** The Solana body with its transaction's bytes changed: flipped, cut, extended, spliced. */
function svmTransactions(): fc.Arbitrary<string> {
  const bytes = Buffer.from((base.svm as any).paymentPayload.payload.transaction as string, "base64");
  const at = fc.nat({ max: bytes.length - 1 });
  return fc
    .oneof(
      fc
        .tuple(at, fc.integer({ min: 0, max: 255 }))
        .map(([i, b]) => Buffer.concat([bytes.subarray(0, i), Buffer.from([b]), bytes.subarray(i + 1)])),
      at.map((i) => bytes.subarray(0, i)),
      fc.uint8Array({ minLength: 1, maxLength: 64 }).map((extra) => Buffer.concat([bytes, extra])),
      fc
        .tuple(at, fc.uint8Array({ minLength: 1, maxLength: 8 }))
        .map(([i, b]) => Buffer.concat([bytes.subarray(0, i), b, bytes.subarray(i)])),
      fc.uint8Array({ minLength: 0, maxLength: 1300 }).map((b) => Buffer.from(b)),
    )
    .map((b) => b.toString("base64"));
}

describe.each(SEEDS)("fuzzing with seed %i", (seed) => {
  it("mutated v1, v2, Permit2 and Solana bodies: never a 5xx, always JSON, refusals name the field", async () => {
    const cases = fc.constantFrom<Base>(1, 2, "permit2", "svm").chain((version) =>
      fc.record({
        version: fc.constant(version),
        route: fc.constantFrom(...ROUTES),
        edits: fc.array(mutations(base[version]), { minLength: 1, maxLength: 3 }),
      }),
    );
    await fc.assert(
      fc.asyncProperty(cases, async ({ version, route, edits }) => {
        const body = edits.reduce<unknown>(apply, base[version]);
        expectNamedField(await post(route, serialize(body), "application/json"), edits);
      }),
      { seed, numRuns: NUM_RUNS },
    );
  });

  it("Solana transactions with their bytes mutated: never a 5xx, never valid", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ROUTES), svmTransactions(), async (route, tx) => {
        const body = apply(base.svm, { kind: "set", path: ["paymentPayload", "payload", "transaction"], value: tx });
        const { json } = await post(route, serialize(body), "application/json");
        expect(json.isValid ?? json.success ?? false).toBe(false);
      }),
      { seed, numRuns: NUM_RUNS / 2 },
    );
  });

  it("raw bodies: not JSON, wrong content types, empty, oversized, prototype keys", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ROUTES), rawBodies(), contentTypes, async (route, body, contentType) => {
        expectNamedField(await post(route, body, contentType));
      }),
      { seed, numRuns: NUM_RUNS / 3 },
    );
  });
});

// ---- the production 500, and what the run left behind -------------------------------------------------

describe.each(ROUTES)("the production 500 on %s", (route) => {
  it.each([
    ["paymentPayload.payload.authorization.value", "1e5"],
    ["paymentRequirements.amount", "abc"],
  ])("%s = %j is a 400 naming the field", async (field, value) => {
    const body = apply(base[2], { kind: "set", path: field.split("."), value });
    const { status, json } = await post(route, serialize(body), "application/json");
    expect(status).toBe(400);
    expect(json).toMatchObject({ error: "invalid_request", field, message: `${field}: must be a canonical decimal integer string` });
  });
});

it("a body nested thousands of levels deep (well under the body limit) is a 400, not a stack overflow", async () => {
  for (const route of ROUTES) {
    const body = apply(base[2], { kind: "add", path: ["paymentPayload", "resource"], key: "deep", value: nested(5000) });
    const { status, json } = await post(route, serialize(body), "application/json");
    expect(status).toBe(400);
    // `resource` is itself a key the schema passes along unread, so it is the field named.
    expect(json).toMatchObject({ error: "invalid_request", field: "paymentPayload.resource" });
    expect(json.message).toMatch(/^paymentPayload\.resource: must not nest deeper than \d+ levels$/);
  }
});

it("nothing reached the ledger or the relayer", async () => {
  const rows = await fac.sql`select payer, nonce, state from settlements`;
  expect(rows, "settlement rows claimed for an unpayable body").toEqual([]);
  expect(await relayerNonce(chain, relayer)).toBe(relayerNonceBefore);
});
