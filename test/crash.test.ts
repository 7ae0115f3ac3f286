// Worker killed with SIGKILL at each write-ahead fault point (threats.md §2, test 2): the worker
// runs as its own OS process with FAULT_POINT set, kills itself there mid-settlement, and a fresh
// worker process has to finish the job from the ledger alone. Judged from the chain: one use of
// the authorization, the price moved once, the relayer's nonces contiguous and all on record.
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import type { Address, Hex } from "viem";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ANVIL_KEYS } from "../src/devnet/anvil.js";
import { startTestChain, type TestChain } from "./support/chain.js";
import { usesOf } from "./support/chain-facts.js";
import { startFacilitator, type TestFacilitator } from "./support/facilitator.js";
import { isolatedNetwork, privateChainId, type IsolatedNetwork } from "./support/isolated-network.js";
import { signAuthorization, v2Body } from "./support/payments.js";
import { auditRelayer, relayerProblems } from "./support/relayer-audit.js";
import { killAllWorkers, spawnWorker, tail, type WorkerProcess } from "./support/worker-process.js";

let chain: TestChain;
let net: IsolatedNetwork;
let fac: TestFacilitator;
const relayer = privateKeyToAccount(ANVIL_KEYS[0]).address;
const payTo = privateKeyToAccount(ANVIL_KEYS[3]).address;
const PRICE = 10_000n;
const RECOVERY_MS = 30_000;

beforeAll(async () => {
  chain = await startTestChain({ chainId: privateChainId() });
  net = isolatedNetwork(chain, "crash-lab");
  // No in-process worker: the only workers are the child processes each test starts.
  fac = await startFacilitator(chain, { ...net.env, SETTLE_WAIT_MS: "1500" }, { worker: false });
});

afterEach(async () => {
  await killAllWorkers();
});

afterAll(async () => {
  await killAllWorkers();
  await fac?.close();
  await chain?.stop();
  net?.remove();
});

interface Payment {
  buyer: Address;
  nonce: Hex;
  body: ReturnType<typeof v2Body>;
}

async function newPayment(): Promise<Payment> {
  const buyer = privateKeyToAccount(generatePrivateKey());
  await chain.fund(buyer.address, "1");
  const signed = await signAuthorization({ payer: buyer, payTo, value: PRICE, asset: chain.usdc.address, chainId: chain.chainId });
  const body = v2Body({ ...signed, asset: chain.usdc.address, payTo, amount: PRICE, network: net.caip2 });
  return { buyer: buyer.address, nonce: signed.authorization.nonce, body };
}

type Row = { id: string; state: string; latest_tx: string | null; settled_tx: string | null; settled_by: string | null; relayer_nonce: string | null };

async function rowOf(p: Payment): Promise<Row | undefined> {
  const [row] = await fac.sql<Row[]>`
    select id, state, latest_tx, settled_tx, settled_by, relayer_nonce::text
    from settlements where chain_id = ${chain.chainId} and payer = ${p.buyer.toLowerCase()} and nonce = ${p.nonce.toLowerCase()}`;
  return row;
}

const txCount = async (id: string) => (await fac.sql<{ n: number }[]>`select count(*)::int as n from settlement_txs where settlement_id = ${id}`)[0]!.n;

/** Polls the ledger until every payment's row is confirmed; on timeout, fails with the states and the worker's log. */
async function waitConfirmed(payments: Payment[], worker: WorkerProcess): Promise<Row[]> {
  const deadline = Date.now() + RECOVERY_MS;
  for (;;) {
    const rows = await Promise.all(payments.map(rowOf));
    if (rows.every((r) => r?.state === "confirmed")) return rows as Row[];
    if (Date.now() > deadline) {
      throw new Error(
        `not confirmed ${RECOVERY_MS / 1000} s after the restart: states ${JSON.stringify(rows.map((r) => r?.state))}\n` +
          `restarted worker's log:\n${tail(worker.output())}`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(what())), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

async function faultyWorker(point: string): Promise<WorkerProcess> {
  const w = spawnWorker({ ...fac.env, FAULT_POINT: point });
  await w.ready();
  return w;
}

async function expectKilledAt(w: WorkerProcess, point: string) {
  const exit = await withTimeout(w.exited, 15_000, () => `the worker with FAULT_POINT=${point} did not die:\n${tail(w.output())}`);
  expect(exit, tail(w.output())).toEqual({ code: null, signal: "SIGKILL" });
  expect(w.output()).toContain(`"point":"${point}"`);
}

/** The pending answer a crash leaves behind: never a failure. */
function expectPending(res: { status: number; json: any }, p: Payment) {
  expect(res.status).toBe(200);
  expect(res.json).toMatchObject({ success: false, errorReason: "settlement_pending", payer: p.buyer, network: net.caip2 });
  expect(res.json.transaction).toMatch(/^(0x[0-9a-f]{64})?$/);
}

async function expectRelayerLaneClean() {
  const audit = await auditRelayer(chain, fac.sql, relayer);
  expect(relayerProblems(audit)).toEqual([]);
  return audit;
}

describe.each([
  { point: "before_sign", at: "after the claim, before anything is signed" },
  { point: "after_signed_commit", at: "after the signed tx is committed, before it is broadcast" },
  { point: "after_broadcast", at: "after the broadcast, before the ledger records it" },
] as const)("worker SIGKILLed $at ($point)", ({ point }) => {
  it("a fresh worker finishes the settlement: one use on chain, the price moved once, nonces contiguous and on record", async () => {
    const faulty = await faultyWorker(point);
    const p = await newPayment();
    const before = { buyer: await chain.balanceOf(p.buyer), payTo: await chain.balanceOf(payTo), relayerNonce: await chain.client.getTransactionCount({ address: relayer }) };

    const pending = await fac.settle(p.body);
    expectPending(pending, p);
    await expectKilledAt(faulty, point);

    // What the crash left behind.
    const crashed = (await rowOf(p))!;
    expect(crashed, "the claim is committed before the worker runs").toBeDefined();
    if (point === "before_sign") {
      expect(crashed.state).toMatch(/^(received|queued)$/);
      expect(crashed.latest_tx).toBeNull();
      expect(await txCount(crashed.id)).toBe(0);
      expect(pending.json.transaction).toBe("");
      expect(await usesOf(chain, p.buyer, p.nonce)).toEqual([]);
    } else {
      // Write-ahead: the signed transaction is on record before it can reach the chain.
      expect(crashed.state).toBe("signed");
      expect(crashed.latest_tx).toMatch(/^0x[0-9a-f]{64}$/);
      expect(await txCount(crashed.id)).toBe(1);
      expect(pending.json.transaction).toBe(crashed.latest_tx);
      const uses = await usesOf(chain, p.buyer, p.nonce);
      expect(uses).toEqual(point === "after_broadcast" ? [crashed.latest_tx] : []);
    }

    const fresh = spawnWorker(fac.env);
    await fresh.ready();
    const [row] = await waitConfirmed([p], fresh);

    // The chain: exactly one use of this authorization, by the transaction the ledger names.
    expect(row!.settled_tx).toMatch(/^0x[0-9a-f]{64}$/);
    expect(row!.settled_by).toBe("self");
    expect(await usesOf(chain, p.buyer, p.nonce)).toEqual([row!.settled_tx]);
    expect(await chain.balanceOf(p.buyer)).toBe(before.buyer - PRICE);
    expect(await chain.balanceOf(payTo)).toBe(before.payTo + PRICE);
    // One relayer transaction for one settlement; a signed-then-crashed one is sent, not re-signed.
    expect(await chain.client.getTransactionCount({ address: relayer })).toBe(before.relayerNonce + 1);
    expect(await txCount(row!.id)).toBe(1);
    if (point !== "before_sign") expect(row!.settled_tx).toBe(crashed.latest_tx);
    await expectRelayerLaneClean();

    // The identical retry is answered from the row: success, with the hash that landed.
    const retry = await fac.settle(p.body);
    expect(retry).toEqual({ status: 200, json: { success: true, payer: p.buyer, transaction: row!.settled_tx, network: net.caip2 } });
    expect(await usesOf(chain, p.buyer, p.nonce)).toHaveLength(1);
  });
});

describe("several settlements in flight when the worker dies after a signed commit", () => {
  it("after the restart every one confirms, each authorization used once, relayer nonces contiguous", async () => {
    const faulty = await faultyWorker("after_signed_commit");
    const payments = await Promise.all(Array.from({ length: 6 }, () => newPayment()));
    const payToBefore = await chain.balanceOf(payTo);
    const relayerBefore = await chain.client.getTransactionCount({ address: relayer });

    const answers = await Promise.all(payments.map((p) => fac.settle(p.body)));
    answers.forEach((a, i) => expectPending(a, payments[i]!));
    await expectKilledAt(faulty, "after_signed_commit");

    // The first signed commit killed the process: nothing reached the chain, at least one row is signed.
    const crashed = await Promise.all(payments.map(rowOf));
    expect(crashed.every((r) => r && ["received", "queued", "signed"].includes(r.state)), JSON.stringify(crashed.map((r) => r?.state))).toBe(true);
    expect(crashed.some((r) => r!.state === "signed")).toBe(true);
    expect(await chain.client.getTransactionCount({ address: relayer })).toBe(relayerBefore);

    const fresh = spawnWorker(fac.env);
    await fresh.ready();
    const rows = await waitConfirmed(payments, fresh);

    for (const [i, p] of payments.entries()) {
      const row = rows[i]!;
      expect(await usesOf(chain, p.buyer, p.nonce)).toEqual([row.settled_tx]);
      expect(await chain.balanceOf(p.buyer)).toBe(1_000_000n - PRICE);
      // A row signed before the crash lands with the transaction it stored then.
      if (crashed[i]!.state === "signed") expect(row.settled_tx).toBe(crashed[i]!.latest_tx);
    }
    expect(await chain.balanceOf(payTo)).toBe(payToBefore + PRICE * BigInt(payments.length));
    expect(await chain.client.getTransactionCount({ address: relayer })).toBe(relayerBefore + payments.length);
    // Relayer nonces of this batch: one per settlement, contiguous, each the row's own.
    const nonces = rows.map((r) => Number(r.relayer_nonce)).sort((a, b) => a - b);
    expect(nonces).toEqual(Array.from({ length: payments.length }, (_, i) => relayerBefore + i));
    await expectRelayerLaneClean();

    const retries = await Promise.all(payments.map((p) => fac.settle(p.body)));
    retries.forEach((r, i) => expect(r.json).toEqual({ success: true, payer: payments[i]!.buyer, transaction: rows[i]!.settled_tx, network: net.caip2 }));
  });
});
