// Prometheus metrics from both processes, scraped before and after a paid request, a refused
// verify and a failed settle: each counter moves by exactly one under the right labels, each
// settlement stage gains one observation, the relayer's balance gauge is what the chain says,
// gas is metered from the receipt, and nothing is labelled by payer.
import { formatEther, parseUnits, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { expect, it } from "vitest";
import { ANVIL_KEYS } from "../src/devnet/anvil.js";
import { startFacilitator } from "./support/facilitator.js";
import { useLab } from "./support/lab.js";
import { fundedPayment } from "./support/payments.js";
import { freePort } from "./support/ports.js";

const METRICS_KEY = "metrics-key-0123456789abcdef";
const relayer = privateKeyToAccount(ANVIL_KEYS[0]).address;
const lab = useLab();

type Samples = Map<string, number>;

/** Prometheus text → "name{label="v",…}" → value, labels in the order exported. */
function parse(text: string): Samples {
  const out: Samples = new Map();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

async function scrape(url: string, key = METRICS_KEY): Promise<{ samples: Samples; text: string }> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${key}` } });
  expect(res.status).toBe(200);
  const text = await res.text();
  return { samples: parse(text), text };
}

const delta = (before: Samples, after: Samples, key: string) => (after.get(key) ?? 0) - (before.get(key) ?? 0);

async function post(url: string, body: unknown) {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

it("counters, stage histograms, relayer gauges and gas move exactly with what happened", async () => {
  lab.fac = await startFacilitator(lab.chain, { METRICS_API_KEY: METRICS_KEY }, { worker: false });
  const worker = await lab.fac.startWorker({ WORKER_METRICS_PORT: String(await freePort()) }, { laneIntervalMs: 200 });
  expect(worker.metricsPort).toBeGreaterThan(0);
  const apiUrl = `${lab.fac.url}/metrics`;
  const workerUrl = `http://127.0.0.1:${worker.metricsPort}/metrics`;
  for (const url of [apiUrl, workerUrl]) {
    expect((await fetch(url)).status).toBe(401);
    expect((await fetch(url, { headers: { authorization: "Bearer wrong-key-0123456789" } })).status).toBe(401);
  }

  const payTo = privateKeyToAccount(generatePrivateKey()).address;
  const paid = await fundedPayment(lab.chain, { payTo, value: 10_000n });
  const forged = await fundedPayment(lab.chain, { payTo, value: 10_000n });
  forged.body.paymentPayload.payload.signature = (await privateKeyToAccount(generatePrivateKey()).signMessage({ message: "x" })) as Hex;
  // Signed for more than it holds: verifies its signature, then the chain says no.
  const broke = await fundedPayment(lab.chain, { payTo, value: parseUnits("5", 6), usdc: "1" });

  const api0 = (await scrape(apiUrl)).samples;
  const worker0 = (await scrape(workerUrl)).samples;

  expect((await post(`${lab.fac.url}/verify`, paid.body)).json).toMatchObject({ isValid: true });
  const settled = await post(`${lab.fac.url}/settle`, paid.body);
  expect(settled.json).toMatchObject({ success: true });
  const refused = await post(`${lab.fac.url}/verify`, forged.body);
  expect(refused.json).toMatchObject({ isValid: false, invalidReason: "invalid_exact_evm_signature" });
  const failed = await post(`${lab.fac.url}/settle`, broke.body);
  expect(failed.json).toMatchObject({ success: false, errorReason: "invalid_exact_evm_insufficient_balance" });

  const verify = (result: string, reason: string) =>
    `x402_verify_total{network="eip155:84532",scheme="exact",result="${result}",reason="${reason}"}`;
  const settle = (result: string, reason: string) =>
    `x402_settle_total{network="eip155:84532",scheme="exact",result="${result}",reason="${reason}"}`;
  const api1 = (await scrape(apiUrl)).samples;
  expect(delta(api0, api1, verify("valid", ""))).toBe(1);
  expect(delta(api0, api1, verify("invalid", "invalid_exact_evm_signature"))).toBe(1);
  expect(delta(api0, api1, settle("success", ""))).toBe(1);
  expect(delta(api0, api1, settle("failure", "invalid_exact_evm_insufficient_balance"))).toBe(1);
  expect(delta(api0, api1, 'x402_verify_duration_seconds_count{scheme="exact"}')).toBe(2);
  expect(delta(api0, api1, 'x402_settle_duration_seconds_count{scheme="exact"}')).toBe(2);
  expect(api1.get('x402_settlements{state="confirmed"}') ?? api1.get('x402_settlements{state="mined"}')).toBeGreaterThanOrEqual(0);

  // Confirmation follows the answer (one block): wait for the row, then for the lane refresh.
  const receipt = await lab.chain.client.getTransactionReceipt({ hash: settled.json.transaction as Hex });
  const lane = `{network="base-sepolia",relayer="${relayer.toLowerCase()}"}`;
  const balanceKey = `x402_relayer_balance_eth${lane}`;
  let worker1: Samples = new Map();
  await expect
    .poll(
      async () => {
        const [row] = await lab.fac!.sql<
          { state: string }[]
        >`select state from settlements where payer = ${paid.buyer.address.toLowerCase()}`;
        worker1 = (await scrape(workerUrl)).samples;
        const chainBalance = Number(formatEther(await lab.chain.client.getBalance({ address: relayer })));
        // Gauges are refreshed on the lane timer: all of them settle on the chain's view together.
        return (
          row?.state === "confirmed" &&
          worker1.get(balanceKey) === chainBalance &&
          worker1.get(`x402_relayer_in_flight${lane}`) === 0 &&
          worker1.get(`x402_relayer_nonce_lag${lane}`) === 0
        );
      },
      { timeout: 15_000, interval: 200 },
    )
    .toBe(true);
  for (const stage of ["signed", "submitted", "mined", "confirmed"]) {
    expect(delta(worker0, worker1, `x402_settlement_stage_seconds_count{stage="${stage}"}`), stage).toBe(1);
  }
  expect(delta(worker0, worker1, "x402_settlement_seconds_count")).toBe(1);
  expect(delta(worker0, worker1, `x402_gas_used_total${lane}`)).toBe(Number(receipt.gasUsed));
  expect(delta(worker0, worker1, `x402_gas_spent_eth_total${lane}`)).toBeCloseTo(
    Number(formatEther(receipt.gasUsed * receipt.effectiveGasPrice)),
    12,
  );

  // RPC traffic is counted per endpoint host, never with the URL's path or query.
  const host = new URL(lab.chain.rpcUrl).host;
  expect(api1.get(`x402_rpc_requests_total{endpoint="${host}",method="eth_call"}`)).toBeGreaterThan(0);
  expect(worker1.get(`x402_rpc_requests_total{endpoint="${host}",method="eth_sendRawTransaction"}`)).toBeGreaterThanOrEqual(1);

  // Payers, nonces and hashes are never labels.
  const texts = [(await scrape(apiUrl)).text, (await scrape(workerUrl)).text].join("\n").toLowerCase();
  for (const secret of [
    paid.buyer.address,
    forged.buyer.address,
    broke.buyer.address,
    settled.json.transaction,
    paid.authorization.nonce,
  ]) {
    expect(texts).not.toContain(secret.toLowerCase().slice(2));
  }
});

it("a client's made-up network and scheme fold into fixed labels", async () => {
  lab.fac = await startFacilitator(lab.chain, { METRICS_API_KEY: METRICS_KEY }, { worker: false });
  const apiUrl = `${lab.fac.url}/metrics`;
  const payTo = privateKeyToAccount(generatePrivateKey()).address;
  for (let i = 0; i < 3; i++) {
    const p = await fundedPayment(lab.chain, { payTo, value: 1n });
    const body = p.body as { paymentRequirements: Record<string, unknown>; paymentPayload: { accepted: Record<string, unknown> } };
    body.paymentRequirements.network = `eip155:${1000 + i}`;
    body.paymentPayload.accepted.network = `eip155:${1000 + i}`;
    body.paymentRequirements.scheme = `made-up-${i}`;
    await post(`${lab.fac.url}/verify`, body);
  }
  const { text } = await scrape(apiUrl);
  expect(text).not.toContain("made-up");
  expect(text).not.toContain("eip155:100");
  expect(parse(text).get('x402_verify_total{network="unknown",scheme="other",result="invalid",reason="unsupported_scheme"}')).toBe(3);
});
