// SETTLE_BATCH_MAX > 1: claimed settlements share one transaction through Multicall3, and each
// one's outcome is read from its own logs, so one failing authorization never sinks the others.
import { createWalletClient, erc20Abi, http, keccak256, parseUnits } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { expect, it } from "vitest";
import { ANVIL_KEYS } from "../src/devnet/anvil.js";
import { MULTICALL3_ADDRESS } from "../src/devnet/multicall3.js";
import { connectDatabase } from "../src/db/client.js";
import { createSettlementsRepo } from "../src/db/settlements-repo.js";
import { relayerNonce, usesOf } from "./support/chain-facts.js";
import { startFacilitator } from "./support/facilitator.js";
import { useLab } from "./support/lab.js";
import { fundedPayment, signAuthorization, v2Body } from "./support/payments.js";
import { startRpcProxy } from "./support/rpc-proxy.js";
import { GAS_PROBE_ADDRESS } from "../src/evm/gas-probe.js";

const relayer = privateKeyToAccount(ANVIL_KEYS[0]).address;
const payTo = privateKeyToAccount(ANVIL_KEYS[3]).address;
const PRICE = 20_000n;

const lab = useLab();

/** Claimed by the api while no worker runs, so the worker later finds them all waiting. */
async function claimAll(bodies: unknown[]) {
  lab.fac = await startFacilitator(
    lab.chain,
    { SETTLE_BATCH_MAX: "10", SETTLE_WAIT_MS: "200", SETTLE_MAX_WAIT_MS: "200" },
    { worker: false },
  );
  for (const b of bodies) expect((await lab.fac.settle(b)).json).toMatchObject({ errorReason: "settlement_pending" });
}

async function rowsUntil(ok: (rows: any[]) => boolean, timeoutMs = 20_000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const rows = (await lab.fac!.admin("/settlements?limit=100")).json.items;
    if (ok(rows) || Date.now() > end) return rows;
    await new Promise((r) => setTimeout(r, 150));
  }
}

it("several authorizations settle in one Multicall3 transaction, each proven by its own logs", async () => {
  const payments = await Promise.all(Array.from({ length: 5 }, () => fundedPayment(lab.chain, { payTo, value: PRICE })));
  await claimAll(payments.map((p) => p.body));
  const nonceBefore = await relayerNonce(lab.chain, relayer);
  await lab.fac!.startWorker();
  const rows = await rowsUntil((r) => r.length === 5 && r.every((x: { state: string }) => x.state === "confirmed"));
  expect(rows.map((r: { state: string }) => r.state)).toEqual(Array(5).fill("confirmed"));
  const hashes = new Set(rows.map((r: { transaction: string }) => r.transaction));
  expect(hashes.size).toBe(1);
  const [hash] = [...hashes] as `0x${string}`[];
  const tx = await lab.chain.client.getTransaction({ hash: hash! });
  expect(tx.to?.toLowerCase()).toBe(MULTICALL3_ADDRESS.toLowerCase());
  expect(await relayerNonce(lab.chain, relayer)).toBe(nonceBefore + 1);
  // The batch's raw bytes are stored once, and every member reads them back whole (a crashed
  // worker's successor rebroadcasts from any member's record).
  const stored = await lab.fac!.sql<
    { id: string; raw: string }[]
  >`select settlement_id as id, raw_tx as raw from settlement_txs where hash = ${hash!}`;
  expect(stored).toHaveLength(5);
  expect(stored.filter((s) => s.raw !== "")).toHaveLength(1);
  const database = connectDatabase(lab.fac!.env.DATABASE_URL!);
  try {
    const repo = createSettlementsRepo(database.db);
    for (const s of stored) {
      const [own] = await repo.txsOf(s.id);
      expect(own!.hash).toBe(hash);
      expect(keccak256(own!.rawTx as `0x${string}`)).toBe(hash);
    }
  } finally {
    await database.close();
  }
  for (const p of payments) {
    expect(await usesOf(lab.chain, p.buyer.address, p.authorization.nonce)).toEqual([hash]);
    expect(await lab.chain.balanceOf(p.buyer.address)).toBe(parseUnits("1", 6) - PRICE);
    expect((await lab.fac!.settle(p.body)).json).toEqual({
      success: true,
      payer: p.buyer.address,
      transaction: hash,
      network: "eip155:84532",
    });
  }
});

it("with a node that ignores state overrides a batch is priced by an eth_call and an estimate, and the probe is not asked again", async () => {
  const first = await Promise.all(Array.from({ length: 3 }, () => fundedPayment(lab.chain, { payTo, value: PRICE })));
  const second = await Promise.all(Array.from({ length: 3 }, () => fundedPayment(lab.chain, { payTo, value: PRICE })));
  await claimAll(first.map((p) => p.body));
  const proxy = await startRpcProxy(lab.chain.rpcUrl);
  proxy.dropStateOverrides = true;
  try {
    await lab.fac!.startWorker({ RPC_URL_BASE_SEPOLIA: proxy.url });
    const settled = (n: number) => (r: { state: string }[]) => r.length === n && r.every((x) => x.state === "confirmed");
    let rows = await rowsUntil(settled(3));
    expect(rows.map((r: { state: string }) => r.state)).toEqual(Array(3).fill("confirmed"));
    expect(new Set(rows.map((r: { transaction: string }) => r.transaction)).size).toBe(1);
    // More after the refusal: settled without asking the probe again.
    await Promise.all(second.map((p) => lab.fac!.settle(p.body)));
    rows = await rowsUntil(settled(6));
    expect(rows.map((r: { state: string }) => r.state)).toEqual(Array(6).fill("confirmed"));
    const probed = proxy.calls.filter(
      (c) => c.method === "eth_call" && (c.params[0] as { to?: string }).to?.toLowerCase() === GAS_PROBE_ADDRESS,
    );
    expect(probed).toHaveLength(1);
    expect(proxy.calls.some((c) => c.method === "eth_estimateGas")).toBe(true);
    for (const p of [...first, ...second]) expect(await usesOf(lab.chain, p.buyer.address, p.authorization.nonce)).toHaveLength(1);
  } finally {
    await lab.fac?.close();
    lab.fac = undefined;
    await proxy.close();
  }
});

it("an authorization that would fail inside the batch is kept out of it and refused alone, with no transaction", async () => {
  // Two authorizations of one payer that can afford only one: each simulates fine alone, but the
  // batch's own simulation shows the second transfer failing inside it.
  const payer = privateKeyToAccount(generatePrivateKey());
  await lab.chain.fund(payer.address, "1");
  const big = parseUnits("0.6", 6);
  const doubled = await Promise.all(
    [0, 1].map(async () => {
      const signed = await signAuthorization({ payer, payTo, value: big, asset: lab.chain.usdc.address, chainId: lab.chain.chainId });
      return { ...signed, body: v2Body({ ...signed, asset: lab.chain.usdc.address, payTo, amount: big, network: "eip155:84532" }) };
    }),
  );
  const others = await Promise.all([0, 1].map(() => fundedPayment(lab.chain, { payTo, value: PRICE })));
  await claimAll([...doubled.map((d) => d.body), ...others.map((o) => o.body)]);
  await lab.fac!.startWorker();
  const rows = await rowsUntil((r) => r.length === 4 && r.every((x: { state: string }) => ["confirmed", "failed"].includes(x.state)));
  const byNonce = new Map(rows.map((r: { nonce: string }) => [r.nonce, r]));
  const doubledRows = doubled.map((d) => byNonce.get(d.authorization.nonce.toLowerCase()) as any);
  const paidOnce = doubledRows.filter((r) => r.state === "confirmed");
  const refused = doubledRows.filter((r) => r.state === "failed");
  expect(paidOnce).toHaveLength(1);
  expect(refused).toHaveLength(1);
  expect(refused[0]).toMatchObject({ errorReason: "invalid_exact_evm_insufficient_balance" });
  // Never signed, never sent: no gas spent on a transfer the simulation showed failing.
  const history = (await lab.fac!.admin(`/settlements/${refused[0].id}`)).json.events;
  expect(history.map((e: { to: string }) => e.to)).not.toContain("signed");
  expect(refused[0].transaction ?? null).toBeNull();
  // The three that go through share one Multicall3 transaction.
  const paid = [paidOnce[0], ...others.map((o) => byNonce.get(o.authorization.nonce.toLowerCase()) as any)];
  for (const r of paid) expect(r.state).toBe("confirmed");
  expect(new Set(paid.map((r) => r.transaction)).size).toBe(1);
  const tx = await lab.chain.client.getTransaction({ hash: paid[0].transaction });
  expect(tx.to?.toLowerCase()).toBe(MULTICALL3_ADDRESS.toLowerCase());
  expect(await lab.chain.balanceOf(payer.address)).toBe(parseUnits("1", 6) - big);
  for (const d of doubled) expect((await usesOf(lab.chain, payer.address, d.authorization.nonce)).length).toBeLessThanOrEqual(1);
});

it("one authorization failing inside a mined batch goes back in line and is judged alone; the others are paid", async () => {
  // The batch simulates fine, then the payer drains its balance with a transaction mined ahead
  // of the batch in the same block (a higher tip): its call fails inside the mined batch.
  const payer = privateKeyToAccount(generatePrivateKey());
  await lab.chain.fund(payer.address, "1");
  await lab.chain.test.setBalance({ address: payer.address, value: parseUnits("1", 18) });
  const big = parseUnits("0.6", 6);
  const signed = await signAuthorization({ payer, payTo, value: big, asset: lab.chain.usdc.address, chainId: lab.chain.chainId });
  const drained = { ...signed, body: v2Body({ ...signed, asset: lab.chain.usdc.address, payTo, amount: big, network: "eip155:84532" }) };
  const others = await Promise.all([0, 1].map(() => fundedPayment(lab.chain, { payTo, value: PRICE })));
  await claimAll([drained.body, ...others.map((o) => o.body)]);
  await lab.chain.test.setAutomine(false);
  try {
    await lab.fac!.startWorker();
    const sent = await rowsUntil((r) => r.length === 3 && r.every((x: { state: string }) => x.state === "submitted"));
    expect(sent.map((r: { state: string }) => r.state)).toEqual(["submitted", "submitted", "submitted"]);
    const wallet = createWalletClient({ account: payer, transport: http(lab.chain.rpcUrl) });
    await wallet.writeContract({
      chain: null,
      address: lab.chain.usdc.address,
      abi: erc20Abi,
      functionName: "transfer",
      args: [privateKeyToAccount(ANVIL_KEYS[4]).address, parseUnits("0.5", 6)],
      maxPriorityFeePerGas: parseUnits("100", 9),
      maxFeePerGas: parseUnits("200", 9),
      gas: 100_000n,
    });
    await lab.chain.test.mine({ blocks: 1 });
  } finally {
    await lab.chain.test.setAutomine(true);
  }
  const rows = await rowsUntil((r) => r.length === 3 && r.every((x: { state: string }) => ["confirmed", "failed"].includes(x.state)));
  const byNonce = new Map(rows.map((r: { nonce: string }) => [r.nonce, r]));
  const refused = byNonce.get(drained.authorization.nonce.toLowerCase()) as any;
  expect(refused).toMatchObject({ state: "failed", errorReason: "invalid_exact_evm_insufficient_balance" });
  const history = (await lab.fac!.admin(`/settlements/${refused.id}`)).json.events;
  expect(
    history.some(
      (e: { from: string; to: string; detail?: { leftOutOf?: string } }) =>
        e.from === "submitted" && e.to === "queued" && e.detail?.leftOutOf,
    ),
  ).toBe(true);
  for (const o of others) expect((byNonce.get(o.authorization.nonce.toLowerCase()) as any).state).toBe("confirmed");
  expect(await lab.chain.balanceOf(payer.address)).toBe(parseUnits("0.5", 6));
  expect(await usesOf(lab.chain, payer.address, drained.authorization.nonce)).toEqual([]);
});
