// Settlement throughput: 1,000 distinct authorizations sent to /settle with 400 in flight, on the
// bench chain (1-second blocks, Circle's USDC), each row against fresh processes: ours with one
// relayer key at the README's recommended settings, with two keys, with batching on, and the
// official facilitator logic (@x402/core + @x402/evm) with one key. A `settlement_pending` answer
// is retried with the same body a second later, as a caller of the official middleware would.
// Beside what the facilitator answered, the chain is asked what happened: authorizations used
// (and none twice), relayer transactions mined, reverted, gas. Prints a table and appends a JSON
// line (scenario: "settlement") to bench/results.jsonl. The one-key and batching rows run in
// alternating rounds (BENCH_SETTLE_ROUNDS, 5) and each reports its median round.
import { appendFileSync } from "node:fs";
import { cpus } from "node:os";
import { createPublicClient, http, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { ANVIL_KEYS } from "../src/devnet/anvil.js";
import { chainEvidence, type Authorization, type ChainEvidence } from "./chain-evidence.js";
import { firstLine, freePort, ourEnv, startProcess, waitForHttp, type Proc, OUR_MAIN } from "./lab.js";
import { cpuByCommand, stageTimes, type StageTimes } from "./pipeline-profile.js";
import { settleLoad, type SettleLoadFigures } from "./settle-client.js";

const env = process.env;
const PAYMENTS = Number(env.BENCH_SETTLE_PAYMENTS ?? 1000);
const IN_FLIGHT = Number(env.BENCH_SETTLE_INFLIGHT ?? 400);
const BATCH_MAX = Number(env.BENCH_SETTLE_BATCH_MAX ?? 10);
const ROWS = (env.BENCH_SETTLE_ROWS ?? "one-key,two-keys,batching,official").split(",").map((s) => s.trim());
/** Rounds of the one-key and batching rows (alternating); each reports its median round. */
const ROUNDS = Math.max(1, Number(env.BENCH_SETTLE_ROUNDS ?? 5));

/** The README's recommended worker and api settings for a busy single key (none beyond the defaults). */
export const RECOMMENDED: Record<string, string> = {};

interface Row {
  name: string;
  load: SettleLoadFigures;
  chain: ChainEvidence;
  apiRssMiB: number;
  workerRssMiB?: number;
  /** Peak RSS before the load (after start-up), api / worker. */
  idleRss: string;
  /** CPU ms per second of the run, per process. */
  cpu: Record<string, number>;
  stages: StageTimes[];
  /** JSON-RPC requests per settlement, by process and method. */
  rpc?: Record<string, Record<string, number>>;
  /** settled/s of every round of this row, in the order run (the figures above are the median round's). */
  rounds?: number[];
}

export async function settlementThroughput(lab: { rpcUrl: string; databaseUrl: string; token: Hex; sign(n: number): Promise<string[]> }) {
  const client = createPublicClient({ transport: http(lab.rpcUrl) });
  const results: Row[] = [];
  console.error(`settlement: ${PAYMENTS} payments, ${IN_FLIGHT} in flight, 1-second blocks; rows: ${ROWS.join(", ")}…`);

  async function measure(
    name: string,
    url: string,
    senders: Hex[],
    procs: { api: Proc; worker?: Proc },
    metricsUrls?: Record<string, string>,
  ) {
    const bodies = await lab.sign(PAYMENTS);
    const authorizations: Authorization[] = bodies.map((b) => {
      const a = JSON.parse(b).paymentPayload.payload.authorization;
      return { from: a.from, nonce: a.nonce };
    });
    const fromBlock = await client.getBlockNumber({ cacheTime: 0 });
    const since = new Date();
    const idleRss = `${procs.api.peakRssMiB().toFixed(1)} / ${procs.worker?.peakRssMiB().toFixed(1) ?? "-"}`;
    const others = ["anvil", "postgres", "redis-server"];
    const cpu0 = { ...cpuByCommand(others), api: procs.api.cpuMs(), worker: procs.worker?.cpuMs() ?? 0, load: cpuOfThisProcess() };
    const load = await settleLoad({ url, bodies, inFlight: IN_FLIGHT });
    const cpu1 = { ...cpuByCommand(others), api: procs.api.cpuMs(), worker: procs.worker?.cpuMs() ?? 0, load: cpuOfThisProcess() };
    const cpu = Object.fromEntries(Object.entries(cpu1).map(([k, v]) => [k, (v - cpu0[k as keyof typeof cpu0]) / load.seconds]));
    // Anything still pending lands within a few blocks; the chain is read after them.
    await new Promise((r) => setTimeout(r, 3_000));
    const chain = await chainEvidence({ rpcUrl: lab.rpcUrl, token: lab.token, authorizations, senders, fromBlock });
    const stages = procs.worker ? await stageTimes(lab.databaseUrl, since) : [];
    const rpc = metricsUrls ? await rpcPerSettlement(metricsUrls, load.settled) : undefined;
    const row: Row = {
      name,
      load,
      chain,
      apiRssMiB: procs.api.peakRssMiB(),
      workerRssMiB: procs.worker?.peakRssMiB(),
      idleRss,
      cpu,
      stages,
      rpc,
    };
    results.push(row);
    console.error(`  ${name}: ${load.settled}/${PAYMENTS} settled in ${load.seconds.toFixed(1)} s`);
  }

  async function ours(name: string, keys: Hex[], extra: Record<string, string>) {
    const port = await freePort();
    const base = ourEnv({
      databaseUrl: lab.databaseUrl,
      rpcUrl: lab.rpcUrl,
      port,
      queuePrefix: `x402bench-s${Date.now()}`,
      relayerKeys: keys,
    });
    // The defaults (or the recommended settings), not the peer scenario's long waits.
    delete (base as Record<string, string>).SETTLE_WAIT_MS;
    delete (base as Record<string, string>).SETTLE_MAX_WAIT_MS;
    const workerMetricsPort = await freePort();
    const e = { ...base, WORKER_METRICS_PORT: String(workerMetricsPort), ...RECOMMENDED, ...extra };
    // BENCH_CPU_PROFILE=dir writes each process's V8 CPU profile there when it stops.
    const profile = [
      ...(env.BENCH_CPU_PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${env.BENCH_CPU_PROFILE}`] : []),
      // BENCH_NODE_FLAGS: extra flags for our api and worker (say, V8 heap sizes).
      ...(env.BENCH_NODE_FLAGS ?? "").split(" ").filter(Boolean),
    ];
    const worker = startProcess([OUR_MAIN, "worker"], e, profile);
    const api = startProcess([OUR_MAIN, "api"], e, profile);
    try {
      await waitForHttp(`http://127.0.0.1:${port}/readyz`, 60_000);
      await new Promise((r) => setTimeout(r, 2_000)); // the worker's lanes leased and its first sweep done
      await measure(
        name,
        `http://127.0.0.1:${port}`,
        keys.map((k) => privateKeyToAccount(k).address),
        { api, worker },
        { api: `http://127.0.0.1:${port}/metrics`, worker: `http://127.0.0.1:${workerMetricsPort}/metrics` },
      );
    } finally {
      await Promise.all([api.stop(), worker.stop()]);
    }
  }

  const oneKey = () => ours("ours, 1 key", [ANVIL_KEYS[0]], {});
  const batching = () => ours(`ours, 1 key, batches of ${BATCH_MAX}`, [ANVIL_KEYS[0]], { SETTLE_BATCH_MAX: String(BATCH_MAX) });
  // One key with and without batching, compared: a run lasts a few seconds of 1-second blocks, so
  // one run's rate moves with where its waves fall against the blocks and with whatever else
  // shares the cores, and later runs meet a longer chain and a fuller ledger. They run in
  // rounds that take turns going first, and each row reports its median round.
  const compared = ROWS.filter((r) => r === "one-key" || r === "batching");
  for (let round = 0; round < ROUNDS; round++)
    for (const row of round % 2 ? [...compared].reverse() : compared) await (row === "one-key" ? oneKey() : batching());
  for (const row of ROWS) {
    if (row === "one-key" || row === "batching") continue;
    if (row === "two-keys") await ours("ours, 2 keys", [ANVIL_KEYS[0], ANVIL_KEYS[1]], {});
    else if (row === "official") {
      const peer = startProcess(["bench/peer-server.ts"], { RPC_URL: lab.rpcUrl, PEER_KEY: ANVIL_KEYS[4] });
      try {
        const url = await firstLine(peer);
        await measure("official logic, 1 key", url, [privateKeyToAccount(ANVIL_KEYS[4]).address], { api: peer });
      } finally {
        await peer.stop();
      }
    } else throw new Error(`BENCH_SETTLE_ROWS: unknown row ${row}`);
  }
  report(medianRounds(results));
}

/** Each row's median round by settled/s, with every round's rate beside it. */
function medianRounds(rows: Row[]): Row[] {
  const byName = new Map<string, Row[]>();
  for (const r of rows) byName.set(r.name, [...(byName.get(r.name) ?? []), r]);
  return [...byName.values()].map((rounds) => {
    const rate = (r: Row) => r.load.settled / r.load.seconds;
    const sorted = [...rounds].sort((a, b) => rate(a) - rate(b));
    return { ...sorted[(sorted.length - 1) >> 1]!, rounds: rounds.map(rate) };
  });
}

/** x402_rpc_requests_total per process and method, over the settlements of the run (counters start at the process's start). */
async function rpcPerSettlement(urls: Record<string, string>, settled: number) {
  const out: Record<string, Record<string, number>> = {};
  for (const [proc, url] of Object.entries(urls)) {
    const text = await fetch(url)
      .then((r) => r.text())
      .catch(() => "");
    const byMethod: Record<string, number> = {};
    for (const m of text.matchAll(/^x402_rpc_requests_total\{([^}]*)\} (\S+)$/gm)) {
      const method = /method="([^"]+)"/.exec(m[1]!)?.[1] ?? "?";
      byMethod[method] = (byMethod[method] ?? 0) + Number(m[2]) / Math.max(settled, 1);
    }
    out[proc] = byMethod;
  }
  return out;
}

function cpuOfThisProcess() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : "-");
const ms = (x: number) => (Number.isFinite(x) ? `${(x / 1000).toFixed(2)} s` : "-");

function report(rows: Row[]) {
  const lines: [string, (r: Row) => string][] = [
    ["settled/s", (r) => f1(r.load.settled / r.load.seconds)],
    ["settled/s of each round", (r) => (r.rounds ?? []).map(f1).join(" / ")],
    ["settled (answered success)", (r) => `${r.load.settled}/${PAYMENTS}`],
    ["landed on chain (used once)", (r) => `${r.chain.used}/${PAYMENTS}${r.chain.usedTwice ? ` (${r.chain.usedTwice} twice!)` : ""}`],
    [
      "refused / errors",
      (r) =>
        `${
          Object.entries(r.load.refused)
            .map(([k, n]) => `${n} ${k}`)
            .join(", ") || "0"
        } / ${r.load.errors}`,
    ],
    ["/settle p50 / p99 (request)", (r) => `${ms(r.load.requestP50Ms)} / ${ms(r.load.requestP99Ms)}`],
    ["payment p50 / p99 (with retries)", (r) => `${ms(r.load.paymentP50Ms)} / ${ms(r.load.paymentP99Ms)}`],
    ["pending answers (then settled)", (r) => `${r.load.pendingAnswers} (${r.load.pendingThenSettled})`],
    ["transactions mined (reverted)", (r) => `${r.chain.txs} (${r.chain.reverted})`],
    ["gas per settlement", (r) => (r.chain.used ? (r.chain.gasUsed / BigInt(r.chain.used)).toString() : "-")],
    ["api / worker RSS MiB before the load", (r) => r.idleRss],
    ["api / worker peak RSS MiB", (r) => `${f1(r.apiRssMiB)} / ${r.workerRssMiB === undefined ? "-" : f1(r.workerRssMiB)}`],
  ];
  const head = ["settlement", ...rows.map((r) => r.name)];
  const table = lines.map(([label, f]) => [label, ...rows.map(f)]);
  const widths = head.map((h, i) => Math.max(h.length, ...table.map((t) => t[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  console.log(line(head));
  for (const t of table) console.log(line(t));
  for (const r of rows) {
    const cpu = Object.entries(r.cpu)
      .map(([k, v]) => `${k} ${v.toFixed(0)}`)
      .join(", ");
    console.log(`${r.name}: CPU ms per second of the run: ${cpu}`);
    for (const [proc, methods] of Object.entries(r.rpc ?? {}))
      console.log(
        `  RPC per settlement, ${proc}: ` +
          Object.entries(methods)
            .sort((a, b) => b[1] - a[1])
            .map(([m, n]) => `${m} ${n.toFixed(2)}`)
            .join(", "),
      );
    for (const st of r.stages)
      console.log(`  ${st.stage.padEnd(24)} p50 ${ms(st.p50Ms).padStart(8)}  p99 ${ms(st.p99Ms).padStart(8)}  (${st.count})`);
  }
  const record = {
    at: new Date().toISOString(),
    scenario: "settlement",
    cpus: cpus().length,
    node: process.version,
    payments: PAYMENTS,
    inFlight: IN_FLIGHT,
    batchMax: BATCH_MAX,
    recommended: RECOMMENDED,
    rows: rows.map((r) => ({ ...r, chain: { ...r.chain, gasUsed: r.chain.gasUsed.toString() } })),
  };
  appendFileSync(new URL("./results.jsonl", import.meta.url), JSON.stringify(record) + "\n");
}
