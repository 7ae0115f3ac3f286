// Exactly once on Solana through crashes: a worker SIGKILLed at each write-ahead fault point
// (before signing, after the signature is committed, after the send) and a fresh worker that
// finishes the job. The cluster is the SIMULATED one (LiteSVM behind a JSON-RPC server). One
// payment per case; the merchant must receive it exactly once and the buyer pay it once.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FAULT_POINTS, expectKilledBySigkill, killLeftoverWorkersAfterAll } from "./support/worker-crash.js";
import { spawnWorker, type FacilitatorProcess } from "./support/processes.js";
import { startLocalSolana, type LocalSolana } from "./support/solana.js";
import { newSvmPayment, startSolanaFacilitator } from "./support/solana-facilitator.js";

let local: LocalSolana;
beforeAll(async () => {
  // Real-cluster slot times: a blockhash lives about a minute, longer than two worker start-ups.
  local = await startLocalSolana({ slotMs: 400 });
});
afterAll(async () => local?.close());
killLeftoverWorkersAfterAll();

describe.each(FAULT_POINTS)("Solana: worker killed $at", ({ point }) => {
  it("a fresh worker settles it exactly once", async () => {
    const fac = await startSolanaFacilitator(local, { SETTLE_WAIT_MS: "1500" }, { worker: false });
    const workers: FacilitatorProcess[] = [];
    try {
      const { payTo, buyer, body } = await newSvmPayment(local, fac);
      const first = await fac.post("/settle", body);
      expect(first.json).toMatchObject({ success: false, errorReason: "settlement_pending" });

      const doomed = spawnWorker({ ...fac.env, FAULT_POINT: point });
      workers.push(doomed);
      await expectKilledBySigkill(doomed, point);
      const [left] = await fac.sql`select state, latest_tx from settlements`;
      const expected = { before_sign: "queued", after_signed_commit: "signed", after_broadcast: "signed" }[point];
      expect(left!.state).toBe(expected);

      const fresh = spawnWorker(fac.env);
      workers.push(fresh);
      await expect
        .poll(async () => (await fac.sql`select state from settlements`)[0]?.state, { timeout: 30_000, interval: 200 })
        .toBe("confirmed");
      const [row] = await fac.sql`select latest_tx, settled_tx from settlements`;
      // The id committed before the crash is the one that landed: the same bytes were sent again.
      if (point !== "before_sign") expect(row!.settled_tx).toBe(left!.latest_tx);
      expect(await local.cluster.tokenBalance(local.usdc, payTo)).toBe(10_000n);
      expect(await local.cluster.tokenBalance(local.usdc, buyer.address)).toBe(990_000n);

      const retry = await fac.post("/settle", body);
      expect(retry.json).toMatchObject({ success: true, transaction: row!.settled_tx });
      const again = await fac.post("/settle", body);
      expect(again.json).toMatchObject({ success: false, errorReason: "duplicate_settlement" });
    } finally {
      await Promise.all(workers.map((w) => w.kill()));
      await fac.close();
    }
  });
});
