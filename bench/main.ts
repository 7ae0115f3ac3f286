// `npm run bench`: this facilitator beside the official facilitator logic (@x402/core +
// @x402/evm behind a minimal HTTP server) on one anvil chain with Circle's real USDC mining a
// block a second. /verify: many distinct valid payloads, 32 connections, 10 s, for EIP-3009 and
// again through Permit2 (the buyers approved it). Settlement:
// 200 payments with 50 in flight, with one relayer key and with two. Prints one table with the
// ratios and appends a JSON line per run to bench/results.jsonl. Then, on the same chain, the
// rate-limit isolation scenario (bench/rate-limit-isolation.ts) and the settlement throughput
// scenario (bench/settlement.ts), and /verify with the discovery catalog on against off
// (bench/discovery.ts). BENCH_SCENARIO picks some of them (comma-separated; all by default).
import { appendFileSync } from "node:fs";
import { cpus } from "node:os";
import { createWalletClient, erc20Abi, http, maxUint256, parseEther, parseUnits, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";
import { ANVIL_KEYS, startAnvil } from "../src/devnet/anvil.js";
import { devnetTestClient } from "../src/devnet/contracts.js";
import { ensureMulticall3 } from "../src/devnet/multicall3.js";
import { deployPermit2Stack, PERMIT2_ADDRESS } from "../src/devnet/permit2.js";
import { BASE_SEPOLIA_USDC, deployUsdc, mintUsdc } from "../src/devnet/usdc.js";
import { signAuthorization, v2Body } from "../test/support/payments.js";
import { permit2Payment } from "../test/support/permit2-payments.js";
import { recreateDatabase } from "../src/devnet/database.js";
import { firstLine, freePort, ourEnv, startProcess, waitForHttp, type Proc, OUR_MAIN } from "./lab.js";
import { run, type RunFigures } from "./load.js";
import { rateLimitIsolation } from "./rate-limit-isolation.js";
import { settlementThroughput } from "./settlement.js";
import { discoveryOverhead } from "./discovery.js";

const env = process.env;
const VERIFY_SECONDS = Number(env.BENCH_VERIFY_SECONDS ?? 10);
// Both systems get the same unmeasured warm-up first, so neither is timed while its JIT is cold.
const WARMUP_SECONDS = Number(env.BENCH_WARMUP_SECONDS ?? 3);
const CONNECTIONS = Number(env.BENCH_CONNECTIONS ?? 32);
const PAYLOADS = Number(env.BENCH_PAYLOADS ?? 1000);
const SETTLEMENTS = Number(env.BENCH_SETTLEMENTS ?? 200);
const IN_FLIGHT = Number(env.BENCH_SETTLE_INFLIGHT ?? 50);
const PRICE = 1_000n;
const payTo = privateKeyToAccount(ANVIL_KEYS[3]).address;
const SCENARIOS = ["peer", "rate-limit-isolation", "settlement", "discovery"] as const;
const selected = (env.BENCH_SCENARIO ?? SCENARIOS.join(","))
  .split(",")
  .map((s) => s.trim())
  .filter(Boolean);
const runs = (s: (typeof SCENARIOS)[number]) => selected.includes(s);

async function main() {
  const unknown = selected.filter((s) => !(SCENARIOS as readonly string[]).includes(s));
  if (unknown.length || !selected.length)
    throw new Error(`BENCH_SCENARIO: ${unknown.join(", ") || "(empty)"} is not one of ${SCENARIOS.join(", ")}`);
  const anvil = await startAnvil({ chainId: 84532 });
  try {
    const usdc = await deployUsdc(anvil.rpcUrl, { address: BASE_SEPOLIA_USDC });
    await ensureMulticall3(anvil.rpcUrl);
    const buyers: PrivateKeyAccount[] = Array.from({ length: 20 }, () => privateKeyToAccount(generatePrivateKey()));
    for (const b of buyers) await mintUsdc(anvil.rpcUrl, usdc, b.address, parseUnits("1000", 6));
    const test = devnetTestClient(anvil.rpcUrl);
    // Permit2 and the exact proxy at their canonical addresses; every buyer approves Permit2 once.
    if (runs("peer")) {
      await deployPermit2Stack(anvil.rpcUrl);
      for (const b of buyers) {
        await test.setBalance({ address: b.address, value: parseEther("1") });
        const wallet = createWalletClient({ account: b, transport: http(anvil.rpcUrl) });
        await wallet.writeContract({
          chain: null,
          address: usdc.address,
          abi: erc20Abi,
          functionName: "approve",
          args: [PERMIT2_ADDRESS, maxUint256],
        });
      }
    }
    await test.setAutomine(false);
    await test.setIntervalMining({ interval: 1 });

    let signedCount = 0;
    const sign = (n: number) =>
      Promise.all(
        Array.from({ length: n }, async () => {
          const signed = await signAuthorization({
            payer: buyers[signedCount++ % buyers.length]!,
            payTo,
            value: PRICE,
            asset: usdc.address,
            chainId: 84532,
          });
          return JSON.stringify(v2Body({ ...signed, asset: usdc.address, payTo, amount: PRICE, network: "eip155:84532" }));
        }),
      );

    let permit2Count = 0;
    const usdcToken = { address: usdc.address, name: "USDC", version: "2" };
    const signPermit2 = (n: number) =>
      Promise.all(
        Array.from({ length: n }, async () => {
          const payer = buyers[permit2Count++ % buyers.length]!;
          const { body } = await permit2Payment({
            from: payer.address,
            sign: (t) => payer.signTypedData(t),
            token: usdcToken,
            amount: PRICE,
            payTo,
            chainId: 84532,
            deadline: BigInt(Math.floor(Date.now() / 1000) + 3600),
          });
          return JSON.stringify(body);
        }),
      );

    const databaseUrl = await recreateDatabase(env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres", "x402_bench");
    if (runs("peer")) await peerComparison({ rpcUrl: anvil.rpcUrl, databaseUrl, sign, signPermit2 });
    if (runs("rate-limit-isolation"))
      await rateLimitIsolation({
        env: (o) => ourEnv({ databaseUrl, rpcUrl: anvil.rpcUrl, relayerKeys: [ANVIL_KEYS[0]], ...o }),
        sign,
        payloads: PAYLOADS,
      });
    if (runs("settlement")) await settlementThroughput({ rpcUrl: anvil.rpcUrl, databaseUrl, token: usdc.address, sign });
    if (runs("discovery")) await discoveryOverhead({ rpcUrl: anvil.rpcUrl, databaseUrl, sign, payloads: PAYLOADS });
  } finally {
    await anvil.stop();
  }
}

/** The first scenario: ours against the official facilitator logic, verify and settle. */
async function peerComparison(lab: {
  rpcUrl: string;
  databaseUrl: string;
  sign(n: number): Promise<string[]>;
  signPermit2(n: number): Promise<string[]>;
}) {
  const { sign, signPermit2 } = lab;
  const procs: Proc[] = [];
  try {
    // ---- ours: api and worker as separate processes ----
    const port = await freePort();
    const queuePrefix = `x402bench${Date.now()}`;
    const envOf = (keys: Hex[]) => ourEnv({ databaseUrl: lab.databaseUrl, rpcUrl: lab.rpcUrl, port, queuePrefix, relayerKeys: keys });
    const oursUrl = `http://127.0.0.1:${port}`;
    let worker = startProcess([OUR_MAIN, "worker"], envOf([ANVIL_KEYS[0]]));
    procs.push(worker);
    // BENCH_CPU_PROFILE=dir writes the api's V8 CPU profile there when it stops.
    const profile = env.BENCH_CPU_PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${env.BENCH_CPU_PROFILE}`] : [];
    const nodeFlags = (env.BENCH_API_NODE_FLAGS ?? "").split(" ").filter(Boolean);
    const api = startProcess([OUR_MAIN, "api"], envOf([ANVIL_KEYS[0]]), [...nodeFlags, ...profile]);
    procs.push(api);
    await waitForHttp(`${oursUrl}/healthz`);

    // ---- peer: the official facilitator logic, signing with its own key ----
    const peer = startProcess(["bench/peer-server.ts"], { RPC_URL: lab.rpcUrl, PEER_KEY: ANVIL_KEYS[4] });
    procs.push(peer);
    const peerUrl = await firstLine(peer);

    const verifyBodies = await sign(PAYLOADS);
    const isValid = (j: { isValid?: boolean }) => j.isValid === true;
    const isPaid = (j: { success?: boolean }) => j.success === true;
    console.error(`verify: ${PAYLOADS} payloads, ${CONNECTIONS} connections, ${WARMUP_SECONDS} s warm-up + ${VERIFY_SECONDS} s each…`);
    const verify = async (url: string, bodies = verifyBodies) => {
      const load = { url, path: "/verify" as const, bodies, connections: CONNECTIONS, isOk: isValid };
      if (WARMUP_SECONDS > 0) await run({ ...load, durationS: WARMUP_SECONDS });
      return run({ ...load, durationS: VERIFY_SECONDS });
    };
    const verifyOurs = await verify(oursUrl);
    const verifyPeer = await verify(peerUrl);
    console.error(`verify through Permit2: ${PAYLOADS} payloads…`);
    const permit2Bodies = await signPermit2(PAYLOADS);
    const verifyPermit2Ours = await verify(oursUrl, permit2Bodies);
    const verifyPermit2Peer = await verify(peerUrl, permit2Bodies);

    console.error(`settle: ${SETTLEMENTS} payments, ${IN_FLIGHT} in flight, 1-second blocks…`);
    const settle = (url: string, bodies: string[]) =>
      run({ url, path: "/settle", bodies, connections: Math.min(IN_FLIGHT, bodies.length), amount: bodies.length, isOk: isPaid });
    const settleOursOne = await settle(oursUrl, await sign(SETTLEMENTS));
    await worker.stop();
    worker = startProcess([OUR_MAIN, "worker"], envOf([ANVIL_KEYS[0], ANVIL_KEYS[1]]));
    procs.push(worker);
    await new Promise((r) => setTimeout(r, 3_000));
    const settleOursTwo = await settle(oursUrl, await sign(SETTLEMENTS));
    const settlePeer = await settle(peerUrl, await sign(SETTLEMENTS));

    report({
      verifyOurs,
      verifyPeer,
      verifyPermit2Ours,
      verifyPermit2Peer,
      settleOursOne,
      settleOursTwo,
      settlePeer,
      apiRssMiB: api.peakRssMiB(),
      peerRssMiB: peer.peakRssMiB(),
    });
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
  }
}

const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : "-");

function report(r: {
  verifyOurs: RunFigures;
  verifyPeer: RunFigures;
  verifyPermit2Ours: RunFigures;
  verifyPermit2Peer: RunFigures;
  settleOursOne: RunFigures;
  settleOursTwo: RunFigures;
  settlePeer: RunFigures;
  apiRssMiB: number;
  peerRssMiB: number;
}) {
  const settled = (x: RunFigures) => x.ok / x.seconds;
  const rows = [
    [
      "verify req/s",
      f1(r.verifyOurs.requestsPerSec),
      f1(r.verifyPeer.requestsPerSec),
      f1(r.verifyOurs.requestsPerSec / r.verifyPeer.requestsPerSec) + "x",
    ],
    ["verify p50 ms", f1(r.verifyOurs.p50Ms), f1(r.verifyPeer.p50Ms), f1(r.verifyPeer.p50Ms / r.verifyOurs.p50Ms) + "x lower"],
    ["verify p99 ms", f1(r.verifyOurs.p99Ms), f1(r.verifyPeer.p99Ms), f1(r.verifyPeer.p99Ms / r.verifyOurs.p99Ms) + "x lower"],
    ["verify isValid:true", `${r.verifyOurs.ok}/${r.verifyOurs.answered}`, `${r.verifyPeer.ok}/${r.verifyPeer.answered}`, ""],
    ["verify errors", String(r.verifyOurs.errors), String(r.verifyPeer.errors), ""],
    [
      "Permit2 verify req/s",
      f1(r.verifyPermit2Ours.requestsPerSec),
      f1(r.verifyPermit2Peer.requestsPerSec),
      f1(r.verifyPermit2Ours.requestsPerSec / r.verifyPermit2Peer.requestsPerSec) + "x",
    ],
    [
      "Permit2 verify p99 ms",
      f1(r.verifyPermit2Ours.p99Ms),
      f1(r.verifyPermit2Peer.p99Ms),
      f1(r.verifyPermit2Peer.p99Ms / r.verifyPermit2Ours.p99Ms) + "x lower",
    ],
    [
      "Permit2 isValid:true",
      `${r.verifyPermit2Ours.ok}/${r.verifyPermit2Ours.answered}`,
      `${r.verifyPermit2Peer.ok}/${r.verifyPermit2Peer.answered}`,
      "",
    ],
    [
      "settled/s, 1 key",
      f1(settled(r.settleOursOne)),
      f1(settled(r.settlePeer)),
      f1(settled(r.settleOursOne) / settled(r.settlePeer)) + "x",
    ],
    ["settled/s, 2 keys", f1(settled(r.settleOursTwo)), "(1 key only)", ""],
    ["settle p50 ms (1 key)", f1(r.settleOursOne.p50Ms), f1(r.settlePeer.p50Ms), ""],
    ["settle p99 ms (1 key)", f1(r.settleOursOne.p99Ms), f1(r.settlePeer.p99Ms), ""],
    ["settle p50/p99 ms (2 keys)", `${f1(r.settleOursTwo.p50Ms)}/${f1(r.settleOursTwo.p99Ms)}`, "", ""],
    [
      "settled ok (1 key / 2 keys)",
      `${r.settleOursOne.ok}/${SETTLEMENTS} / ${r.settleOursTwo.ok}/${SETTLEMENTS}`,
      `${r.settlePeer.ok}/${SETTLEMENTS}`,
      "",
    ],
    ["api peak RSS MiB", f1(r.apiRssMiB), f1(r.peerRssMiB), ""],
  ];
  const widths = [0, 1, 2, 3].map((i) =>
    Math.max(...[["", "ours", "peer (@x402/evm)", "ours/peer"][i]!.length, ...rows.map((row) => row[i]!.length)]),
  );
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ");
  console.log(line(["", "ours", "peer (@x402/evm)", "ours/peer"]));
  for (const row of rows) console.log(line(row));
  const record = {
    at: new Date().toISOString(),
    cpus: cpus().length,
    node: process.version,
    verifySeconds: VERIFY_SECONDS,
    warmupSeconds: WARMUP_SECONDS,
    apiProcesses: Number(env.BENCH_API_PROCESSES ?? 1),
    recoveryThreads: env.RECOVERY_THREADS ?? "default",
    connections: CONNECTIONS,
    settlements: SETTLEMENTS,
    inFlight: IN_FLIGHT,
    ...r,
  };
  appendFileSync(new URL("./results.jsonl", import.meta.url), JSON.stringify(record) + "\n");
}

main().catch((err: unknown) => {
  console.error(`bench failed: ${err instanceof Error ? err.stack : String(err)}`);
  process.exit(1);
});
