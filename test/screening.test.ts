// Address screening, against the real api and worker on anvil. A listed payer or payTo is refused
// at /verify and /settle; a genuine payment refused at /settle is kept in the ledger as rejected,
// naming the listed party, and nothing is sent. The list file is followed while the api runs.
// The HTTP preflight fails closed: no clear answer in time is a refusal, and nothing the service
// said reaches the caller.
import { writeFileSync } from "node:fs";
import type { Address } from "viem";
import { generatePrivateKey, privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";
import { afterAll, describe, expect, it } from "vitest";
import { post, removeTempFiles, tempFile, waitUntil } from "./support/abuse.js";
import { usesOf } from "./support/chain-facts.js";
import { startFacilitator, type TestFacilitator } from "./support/facilitator.js";
import { useLab } from "./support/lab.js";
import { fundedPayment, signAuthorization, v2Body } from "./support/payments.js";
import { CLOSED_PORT_URL } from "./support/rpc-proxy.js";
import { MARKER, startScreeningService, type ScreeningMode, type ScreeningService } from "./support/screening-service.js";

const NETWORK = "eip155:84532";
const PRICE = 10_000n;
const TX_HASH = /^0x[0-9a-f]{64}$/;
const fresh = () => privateKeyToAccount(generatePrivateKey());

const services: ScreeningService[] = [];
const lab = useLab({ afterEach: async () => void (await Promise.all(services.splice(0).map((s) => s.close()))) });
afterAll(() => removeTempFiles());

const payment = (payTo: Address = fresh().address) => fundedPayment(lab.chain, { payTo, value: PRICE });

/** A payment from an account whose address had to be known (and listed) before it was funded. */
async function paymentFrom(buyer: PrivateKeyAccount, payTo: Address = fresh().address) {
  await lab.chain.fund(buyer.address, "1");
  const signed = await signAuthorization({ payer: buyer, payTo, value: PRICE, asset: lab.chain.usdc.address, chainId: lab.chain.chainId });
  return { buyer, ...signed, body: v2Body({ ...signed, asset: lab.chain.usdc.address, payTo, amount: PRICE, network: NETWORK }) };
}

const rowsOf = (fac: TestFacilitator, payer: Address) =>
  fac.sql<
    {
      id: string;
      state: string;
      error_reason: string | null;
      error_message: string | null;
      latest_tx: string | null;
      settled_tx: string | null;
    }[]
  >`select id, state, error_reason, error_message, latest_tx, settled_tx from settlements where payer = ${payer.toLowerCase()}`;

const txCount = async (fac: TestFacilitator, settlementId: string) =>
  Number((await fac.sql<{ n: string }[]>`select count(*)::text as n from settlement_txs where settlement_id = ${settlementId}`)[0]!.n);

type Payment = Awaited<ReturnType<typeof payment>>;

/** Refused at both ends with `reason`; a genuine payment is then on record as rejected, naming `party`. */
async function expectScreenedOut(fac: TestFacilitator, p: Payment, reason: string, party: "payer" | "payTo") {
  const verified = await post(fac.url, "/verify", p.body);
  expect(verified.status).toBe(200);
  expect(verified.json).toMatchObject({ isValid: false, invalidReason: reason, payer: p.buyer.address });
  const settled = await post(fac.url, "/settle", p.body);
  expect(settled.status).toBe(200);
  expect(settled.json).toMatchObject({ success: false, errorReason: reason, transaction: "", payer: p.buyer.address });
  const rows = await rowsOf(fac, p.buyer.address);
  expect(rows).toEqual([
    {
      id: expect.any(String),
      state: "rejected",
      error_reason: reason,
      error_message: `screening listed the ${party}`,
      latest_tx: null,
      settled_tx: null,
    },
  ]);
  expect(await txCount(fac, rows[0]!.id)).toBe(0);
  expect(await usesOf(lab.chain, p.buyer.address, p.authorization.nonce)).toEqual([]);
}

describe("SCREENING_FILE", () => {
  it("refuses a listed payer and a listed payTo at /verify and /settle, recording the settle refusal as rejected", async () => {
    const [listedPayer, listedPayTo] = [fresh(), fresh()];
    // An export as a compliance tool writes it: whatever the format, every address in it is listed.
    const file = tempFile(
      "screening.csv",
      `# exported list\nname,address,program\nsomeone,${listedPayer.address},SDN\nsomewhere,${listedPayTo.address.toLowerCase()},SDN\n`,
    );
    const fac = (lab.fac = await startFacilitator(lab.chain, { SCREENING_FILE: file }));

    await expectScreenedOut(fac, await paymentFrom(listedPayer), "screening_payer_refused", "payer");
    await expectScreenedOut(fac, await payment(listedPayTo.address), "screening_payto_refused", "payTo");

    // Unlisted parties go through as ever.
    const clean = await payment();
    expect((await post(fac.url, "/verify", clean.body)).json).toEqual({ isValid: true, payer: clean.buyer.address });
    expect((await post(fac.url, "/settle", clean.body)).json).toMatchObject({ success: true, transaction: expect.stringMatching(TX_HASH) });
  });

  it("follows edits to the file without a restart: an added address is refused, a removed one allowed again", async () => {
    const listed = fresh().address;
    const file = tempFile("screening.txt", `${listed}\n`);
    const fac = (lab.fac = await startFacilitator(lab.chain, { SCREENING_FILE: file }));
    const p = await payment();
    const verdict = async () => (await post(fac.url, "/verify", p.body)).json;
    expect(await verdict()).toEqual({ isValid: true, payer: p.buyer.address });

    writeFileSync(file, `${listed}\n${p.buyer.address}\n`);
    const added = Date.now();
    await waitUntil(verdict, (v) => v.invalidReason === "screening_payer_refused", 3_000, "the added payer is refused");
    const tookToAdd = Date.now() - added;

    writeFileSync(file, `${listed}\n`);
    await waitUntil(verdict, (v) => v.isValid === true, 3_000, "the removed payer is allowed again");
    const settled = await post(fac.url, "/settle", p.body);
    expect(settled.json).toMatchObject({ success: true, transaction: expect.stringMatching(TX_HASH) });
    expect(await usesOf(lab.chain, p.buyer.address, p.authorization.nonce)).toEqual([settled.json.transaction]);
    expect(tookToAdd).toBeLessThan(3_000);
  });
});

describe("SCREENING_URL", () => {
  const TIMEOUT_MS = 300;

  async function service(): Promise<ScreeningService> {
    const s = await startScreeningService();
    services.push(s);
    return s;
  }

  /** Refused as unavailable at both ends, nothing recorded or sent, and the service's words kept in. */
  async function expectUnavailable(fac: TestFacilitator, what: string) {
    const p = await payment();
    const verified = await post(fac.url, "/verify", p.body);
    expect(verified.json, what).toMatchObject({ isValid: false, invalidReason: "screening_unavailable", payer: p.buyer.address });
    const settled = await post(fac.url, "/settle", p.body);
    expect(settled.json, what).toMatchObject({ success: false, errorReason: "screening_unavailable", transaction: "" });
    for (const a of [verified, settled]) {
      expect(a.status, what).toBe(200);
      expect(a.text, what).not.toContain(MARKER);
    }
    expect(await rowsOf(fac, p.buyer.address), what).toEqual([]);
    expect(await usesOf(lab.chain, p.buyer.address, p.authorization.nonce), what).toEqual([]);
  }

  it("fails closed when the service is down, slower than SCREENING_TIMEOUT_MS, or gives no clear answer", async () => {
    const down = await startFacilitator(lab.chain, { SCREENING_URL: CLOSED_PORT_URL }, { worker: false });
    try {
      await expectUnavailable(down, "connection refused");
    } finally {
      await down.close();
    }

    const s = await service();
    const fac = (lab.fac = await startFacilitator(lab.chain, { SCREENING_URL: s.url, SCREENING_TIMEOUT_MS: String(TIMEOUT_MS) }));
    for (const mode of ["not-json", "wrong-shape", "error"] satisfies ScreeningMode[]) {
      s.mode = mode;
      await expectUnavailable(fac, mode);
    }

    s.mode = "slow";
    const p = await payment();
    const started = Date.now();
    const slow = await post(fac.url, "/verify", p.body);
    const tookMs = Date.now() - started;
    expect(slow.json).toMatchObject({ isValid: false, invalidReason: "screening_unavailable" });
    expect(tookMs, "answered at the timeout, not when the service finally allowed").toBeGreaterThanOrEqual(TIMEOUT_MS);
    expect(tookMs).toBeLessThan(s.slowMs);
    await expectUnavailable(fac, "slow");
  });

  it("lets a payment through on a clear allow, and refuses on a hit, naming the party", async () => {
    const s = await service();
    const fac = (lab.fac = await startFacilitator(lab.chain, { SCREENING_URL: s.url, SCREENING_TIMEOUT_MS: String(TIMEOUT_MS) }));

    const payTo = fresh().address;
    const allowed = await payment(payTo);
    expect((await post(fac.url, "/verify", allowed.body)).json).toEqual({ isValid: true, payer: allowed.buyer.address });
    const settled = await post(fac.url, "/settle", allowed.body);
    expect(settled.json).toMatchObject({ success: true, transaction: expect.stringMatching(TX_HASH), network: NETWORK });
    expect(await usesOf(lab.chain, allowed.buyer.address, allowed.authorization.nonce)).toEqual([settled.json.transaction]);
    expect(s.requests).toContainEqual({ payer: allowed.buyer.address.toLowerCase(), payTo: payTo.toLowerCase(), network: NETWORK });

    s.mode = "refuse-payTo";
    await expectScreenedOut(fac, await payment(), "screening_payto_refused", "payTo");
    s.mode = "refuse-payer";
    await expectScreenedOut(fac, await payment(), "screening_payer_refused", "payer");
  });
});
