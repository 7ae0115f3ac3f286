// SIGTERM while settlements are in flight (threats.md §2): the worker stops taking work, hands
// back what it holds, closes its pools and exits 0; the api answers every waiting /settle from
// its row (pending, with the hash) before it exits 0. Nothing is half-sent: every relayer
// transaction the node holds was on record before it was sent, and fresh processes finish every
// payment exactly once from the ledger alone.
import { afterEach, expect, it } from "vitest";
import { killAllProcesses, tail } from "./support/processes.js";
import {
  expectAllLandedOnce,
  expectHonestAnswer,
  openOutageLab,
  payTo,
  relayer,
  waitUntil,
  type Answer,
  type OutageLab,
} from "./support/outage-lab.js";

let lab: OutageLab | undefined;
afterEach(async () => {
  await lab?.close();
  lab = undefined;
  await killAllProcesses();
});

it("SIGTERM drains both processes: exit 0, nothing half-sent, fresh processes finish every payment once", async () => {
  lab = await openOutageLab({ env: { SETTLE_WAIT_MS: "30000", SETTLE_MAX_WAIT_MS: "30000" } });
  const l = lab;
  const payments = await l.newPayments(8);
  const payToBefore = await l.chain.balanceOf(payTo);
  // No blocks: every settlement the worker sends waits in the pool for its receipt.
  await l.chain.test.setAutomine(false);
  const answers: Answer[][] = payments.map(() => []);
  const inFlight = payments.map((p, i) => l.post("/settle", p.body).then((a) => void answers[i]!.push(a)));
  const logs = () => `api:\n${tail(l.api.output(), 15)}\nworker:\n${tail(l.worker.output(), 15)}`;
  await waitUntil(
    async () => (await l.sql<{ n: number }[]>`select count(*)::int as n from settlements where state = 'submitted'`)[0]!.n,
    (n) => n === payments.length,
    20_000,
    (n) => `only ${n} of ${payments.length} submitted\n${logs()}`,
  );

  const [api, worker] = [l.api, l.worker];
  const started = Date.now();
  worker.signal("SIGTERM");
  api.signal("SIGTERM");
  const [workerExit, apiExit] = await Promise.all([worker.exited, api.exited]);
  expect(workerExit, logs()).toEqual({ code: 0, signal: null });
  expect(apiExit, logs()).toEqual({ code: 0, signal: null });
  // Well inside the 10 s a stuck close would be given before exit 1.
  expect(Date.now() - started).toBeLessThan(8_000);
  await Promise.all(inFlight);
  // The waiting requests were answered, not cut: pending, each with its transaction.
  answers.forEach((a, i) => {
    expectHonestAnswer(a[0]!, payments[i]!, logs);
    expect(a[0]!.status).toBe(200);
    expect(a[0]!.json.errorReason).toBe("settlement_pending");
  });

  // Every relayer transaction the node holds is one the ledger stored before sending it.
  const pool = await l.chain.test.getTxpoolContent();
  const fromRelayer = Object.entries(pool.pending).find(([from]) => from.toLowerCase() === relayer.toLowerCase())?.[1] ?? {};
  const pooled = Object.values(fromRelayer).map((tx) => tx.hash.toLowerCase());
  expect(pooled).toHaveLength(payments.length);
  const stored = await l.sql<{ hash: string }[]>`select hash from settlement_txs`;
  expect(pooled.filter((h) => !stored.some((s) => s.hash === h))).toEqual([]);
  const rows = await l.sql<{ state: string }[]>`select state from settlements`;
  expect(rows.map((r) => r.state)).toEqual(payments.map(() => "submitted"));

  await l.chain.test.setAutomine(true);
  await l.chain.test.mine({ blocks: 1 });
  await l.respawn();
  await expectAllLandedOnce(l, payments, answers, payToBefore);
}, 120_000);
