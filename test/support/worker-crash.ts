// Killing a worker process at a write-ahead fault point, as the crash tests for EIP-3009
// (crash.test.ts) and for Permit2 (the exactly-once tests) do, and the first things checked after.
import type { Address, Hex } from "viem";
import { afterAll, expect } from "vitest";
import { startTestChain, type TestChain } from "./chain.js";
import { startFacilitator, type TestFacilitator } from "./facilitator.js";
import type { v2Body } from "./payments.js";
import { killAllProcesses, spawnWorker, tail, type FacilitatorProcess } from "./processes.js";

/** Where a worker started with FAULT_POINT kills itself with SIGKILL. */
export const FAULT_POINTS = [
  { point: "before_sign", at: "after the claim, before anything is signed" },
  { point: "after_signed_commit", at: "after the signed tx is committed, before it is broadcast" },
  { point: "after_broadcast", at: "after the broadcast, before the ledger records it" },
] as const;
export type FaultPoint = (typeof FAULT_POINTS)[number]["point"];

/**
 * How long a fresh worker may take to finish what a killed one left. A dead worker's relayer
 * lease (15 s, src/worker/relayer-pool.ts) has to expire before another worker may sign with
 * that key; after that, its reconciler (every 5 s) and job retries have to pick the rows up.
 */
export const RECOVERY_MS = 45_000;

async function withTimeout<T>(p: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(what())), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

export async function expectKilledBySigkill(w: FacilitatorProcess, point: string) {
  const exit = await withTimeout(w.exited, 15_000, () => `the worker with FAULT_POINT=${point} did not die:\n${tail(w.output())}`);
  // (Its own "fault point reached" warning is usually lost: pino writes asynchronously and SIGKILL does not flush.)
  expect(exit, tail(w.output())).toEqual({ code: null, signal: "SIGKILL" });
}

/** The answer a crash leaves behind: pending, never a failure. */
export function expectPending(res: { status: number; json: any }, payer: Address) {
  expect(res.status).toBe(200);
  expect(res.json).toMatchObject({ success: false, errorReason: "settlement_pending", payer, network: "eip155:84532" });
  expect(res.json.transaction).toMatch(/^(0x[0-9a-f]{64})?$/);
}

/**
 * A crash lab: a chain, the api in process with no worker (a short SETTLE_WAIT_MS, so /settle
 * answers settlement_pending quickly while no worker runs), and worker child processes it starts
 * and kills. Every lab is its own, so cases run concurrently.
 */
export async function openCrashLab() {
  const chain: TestChain = await startTestChain();
  const fac: TestFacilitator = await startFacilitator(chain, { SETTLE_WAIT_MS: "1500" }, { worker: false });
  const workers: FacilitatorProcess[] = [];
  return {
    chain,
    fac,
    spawn(extra: Record<string, string> = {}): FacilitatorProcess {
      const w = spawnWorker({ ...fac.env, ...extra });
      workers.push(w);
      return w;
    },
    async close() {
      await Promise.all(workers.map((w) => w.kill()));
      await fac.close();
      await chain.stop();
    },
  };
}

/** A payment of a crash case: who pays, the authorization's nonce, and the /settle body. */
export interface CrashPayment {
  buyer: Address;
  nonce: Hex;
  body: ReturnType<typeof v2Body>;
}

/** Safety net for a file of crash cases: each lab kills its own workers; this catches what a crashed case left. */
export function killLeftoverWorkersAfterAll() {
  afterAll(async () => {
    await killAllProcesses();
  });
}
