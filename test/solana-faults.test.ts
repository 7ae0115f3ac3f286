// Solana settlement when the cluster misbehaves, against the SIMULATED cluster (LiteSVM behind a
// JSON-RPC server whose fault hooks stand in for a real node's failures): a transaction that is
// not confirmed in time is answered pending with its signature; a send that lands while its
// caller hears an error, and a send that is lost, both end with the payment made exactly once;
// an RPC that is down answers 503, never a verdict, and the payment completes when it returns.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startLocalSolana, type LocalSolana } from "./support/solana.js";
import { newSvmPayment, startSolanaFacilitator, type SolanaFacilitator } from "./support/solana-facilitator.js";

let local: LocalSolana;
let fac: SolanaFacilitator | undefined;
beforeAll(async () => {
  local = await startLocalSolana({ slotMs: 200 });
});
afterEach(async () => {
  local.server.faults.resumeSlots();
  await fac?.close();
  fac = undefined;
});
afterAll(async () => local?.close());

const payment = (f: SolanaFacilitator) => newSvmPayment(local, f);

const stateOf = async (f: SolanaFacilitator) => (await f.sql`select state from settlements`)[0]?.state;

describe("Solana faults", () => {
  it("not confirmed in time: pending with the signature, then success on the retry", async () => {
    fac = await startSolanaFacilitator(local, { SETTLE_WAIT_MS: "1500" });
    const { payTo, body } = await payment(fac);
    local.server.faults.pauseSlots();
    const first = await fac.post("/settle", body);
    expect(first.json).toMatchObject({ success: false, errorReason: "settlement_pending" });
    expect(first.json.transaction).toMatch(/^[1-9A-HJ-NP-Za-km-z]{64,88}$/);
    local.server.faults.resumeSlots();
    await expect.poll(() => stateOf(fac!), { timeout: 10_000 }).toBe("confirmed");
    const retry = await fac.post("/settle", body);
    expect(retry.json).toMatchObject({ success: true, transaction: first.json.transaction });
    expect(await local.cluster.tokenBalance(local.usdc, payTo)).toBe(10_000n);
  });

  it("a send that lands while the caller hears an error is found by its signature, paid once", async () => {
    fac = await startSolanaFacilitator(local);
    const { payTo, buyer, body } = await payment(fac);
    local.server.faults.landSilently(1, "error");
    const settled = await fac.post("/settle", body);
    expect(settled.json).toMatchObject({ success: true });
    expect(await local.cluster.tokenBalance(local.usdc, payTo)).toBe(10_000n);
    expect(await local.cluster.tokenBalance(local.usdc, buyer.address)).toBe(990_000n);
  });

  it("a send that is lost is sent again, the same bytes, and lands once", async () => {
    fac = await startSolanaFacilitator(local);
    const { payTo, body } = await payment(fac);
    local.server.faults.dropSends(1);
    const settled = await fac.post("/settle", body);
    expect(settled.json).toMatchObject({ success: true });
    const [row] = await fac.sql`select latest_tx, settled_tx from settlements`;
    expect(row!.settled_tx).toBe(row!.latest_tx);
    expect(await local.cluster.tokenBalance(local.usdc, payTo)).toBe(10_000n);
  });

  it("with the RPC down, /verify and /settle answer 503 (no verdict, nothing claimed); the payment goes through once it is back", async () => {
    fac = await startSolanaFacilitator(local);
    const { payTo, body } = await payment(fac);
    await local.server.stop();
    try {
      const verify = await fac.post("/verify", body);
      expect(verify.status).toBe(503);
      expect(verify.json.error).toBe("rpc_unavailable");
      const settle = await fac.post("/settle", body);
      expect(settle.status).toBe(503);
      expect((await fac.sql`select count(*)::int as n from settlements`)[0]!.n).toBe(0);
    } finally {
      await local.server.restart();
    }
    const settled = await fac.post("/settle", body);
    expect(settled.json).toMatchObject({ success: true });
    expect(await local.cluster.tokenBalance(local.usdc, payTo)).toBe(10_000n);
  });

  it("the RPC going down after the claim delays the payment but loses nothing", async () => {
    fac = await startSolanaFacilitator(local, { SETTLE_WAIT_MS: "1000" });
    const { payTo, body } = await payment(fac);
    // The claim and its verification go through; the worker then finds the RPC gone.
    const verified = await fac.post("/verify", body);
    expect(verified.json.isValid).toBe(true);
    local.server.faults.pauseSlots();
    const first = await fac.post("/settle", body);
    expect(first.json).toMatchObject({ success: false, errorReason: "settlement_pending" });
    await local.server.stop();
    local.server.faults.resumeSlots();
    await new Promise((r) => setTimeout(r, 1_500));
    await local.server.restart();
    await expect.poll(() => stateOf(fac!), { timeout: 20_000 }).toBe("confirmed");
    expect(await local.cluster.tokenBalance(local.usdc, payTo)).toBe(10_000n);
  });
});
