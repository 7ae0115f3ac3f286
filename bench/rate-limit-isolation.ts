// Rate-limit isolation: does one key sending far over its limit slow the others down? Our api
// alone (no worker), with API_KEYS_FILE holding two keys: `noisy`, limited to 10 requests a second
// in bursts of 1, and `calm`, with no limit. The calm key sends valid /verify payloads at a steady
// 200 a second the whole time: an unmeasured warm-up, then rounds of a window alone and a window
// while the noisy key, on a thread of its own, sends 2,000 /verify requests at 400 a second (all
// but about 10 a second answered 429). The calm key's answers are split by when they were sent and
// pooled over the rounds; the target is that its p99 moves by no more than 20%. Then, as a
// control, the noisy client sends as many at a bare server that answers 429 at once
// (bench/bare-429-server.ts): what its sending alone costs the calm key on the shared cores. On
// two cores a client firing as fast as it can (BENCH_RL_NOISY_RATE=0) measures the machine more
// than the api: its own CPU moves the calm p99 by +70…+250% against the bare server. Prints a
// table and appends a JSON line (scenario: "rate-limit-isolation") to bench/results.jsonl.
import { randomBytes } from "node:crypto";
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { Worker } from "node:worker_threads";
import { firstLine, freePort, startProcess, waitForHttp, type Proc, OUR_MAIN } from "./lab.js";
import { steady, type RunFigures, type Sample } from "./load.js";

const env = process.env;
const CALM_RATE = Number(env.BENCH_RL_CALM_RATE ?? 200);
const CALM_CONNECTIONS = Number(env.BENCH_RL_CALM_CONNECTIONS ?? 32);
const WARMUP_SECONDS = Number(env.BENCH_WARMUP_SECONDS ?? 3);
const ALONE_SECONDS = Number(env.BENCH_RL_ALONE_SECONDS ?? 5);
const NOISY_REQUESTS = Number(env.BENCH_RL_NOISY_REQUESTS ?? 2000);
const NOISY_CONNECTIONS = Number(env.BENCH_RL_NOISY_CONNECTIONS ?? 32);
/** The noisy key's pace, requests a second: 0 fires as fast as its connections allow. */
const NOISY_RATE = Number(env.BENCH_RL_NOISY_RATE ?? 400) || undefined;
const ROUNDS = Math.max(1, Number(env.BENCH_RL_ROUNDS ?? 4));
const CONTROL = env.BENCH_RL_CONTROL !== "0";
const NOISY_PER_SECOND = Number(env.BENCH_RL_NOISY_LIMIT ?? 10);
const NOISY_BURST = Number(env.BENCH_RL_NOISY_BURST ?? 1);
/** The most the calm key's /verify p99 may move, in percent. */
const TARGET_P99_CHANGE_PCT = 20;

interface Window {
  seconds: number;
  /** Answers to requests sent in the window. */
  samples: number;
  valid: number;
  /** Answers that arrived in the window, per second. */
  answeredPerSec: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

interface Burst {
  seconds: number;
  requests: number;
  statuses: Record<string, number>;
  p50Ms: number;
  p99Ms: number;
}

const quantile = (sorted: number[], q: number) => (sorted.length ? sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]! : NaN);

/** [from, to) in performance.now() ms. */
type Span = [number, number];

/** The calm answers to requests sent within any of the spans, pooled. */
function windowOf(samples: Sample[], spans: Span[]): Window {
  const inAny = (t: number) => spans.some(([from, to]) => t >= from && t < to);
  const sent = samples.filter((s) => inAny(s.sentAt));
  const ms = sent.map((s) => s.ms).sort((a, b) => a - b);
  const answered = samples.filter((s) => inAny(s.sentAt + s.ms)).length;
  const seconds = spans.reduce((t, [from, to]) => t + (to - from) / 1000, 0);
  return {
    seconds,
    samples: sent.length,
    valid: sent.filter((s) => s.ok).length,
    answeredPerSec: answered / seconds,
    p50Ms: quantile(ms, 0.5),
    p99Ms: quantile(ms, 0.99),
    maxMs: ms.at(-1) ?? NaN,
  };
}

export async function rateLimitIsolation(lab: {
  /** Our api's environment on the bench chain and database, for this port and queue prefix. */
  env(o: { port: number; queuePrefix: string }): Record<string, string>;
  sign(n: number): Promise<string[]>;
  payloads: number;
}) {
  const dir = mkdtempSync(join(tmpdir(), "x402-bench-keys-"));
  const noisyKey = `noisy-${randomBytes(16).toString("hex")}`;
  const calmKey = `calm-${randomBytes(16).toString("hex")}`;
  const keysFile = join(dir, "keys.json");
  writeFileSync(
    keysFile,
    JSON.stringify([
      { id: "noisy", key: noisyKey, rateLimit: { perSecond: NOISY_PER_SECOND, burst: NOISY_BURST } },
      { id: "calm", key: calmKey },
    ]),
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  // A fresh prefix, so the rate-limit counters in Redis start from nothing.
  const apiEnv = { ...lab.env({ port, queuePrefix: `x402bench-rl${Date.now()}` }), API_KEYS_FILE: keysFile };
  const profile = env.BENCH_CPU_PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${env.BENCH_CPU_PROFILE}`] : [];
  const nodeFlags = (env.BENCH_API_NODE_FLAGS ?? "").split(" ").filter(Boolean);
  const procs: Proc[] = [];
  let noisy: Worker | undefined;
  try {
    const api = startProcess([OUR_MAIN, "api"], apiEnv, [...nodeFlags, ...profile]);
    procs.push(api);
    const bare = CONTROL ? startProcess(["bench/bare-429-server.ts"], {}) : undefined;
    if (bare) procs.push(bare);
    const bareUp = bare && firstLine(bare); // listening from the start, so the line is not missed
    await waitForHttp(`${url}/healthz`);
    const bareUrl = await bareUp;
    const bodies = await lab.sign(lab.payloads);
    // The noisy client's thread loads first, so its start-up is not timed against the calm key.
    // (A worker thread does not inherit tsx's loader: it registers it, then loads the TypeScript.)
    const tsx = import.meta.resolve("tsx/esm/api");
    const client = new URL("./noisy-client.ts", import.meta.url).href;
    noisy = new Worker(`import(${JSON.stringify(tsx)}).then((t) => t.register()).then(() => import(${JSON.stringify(client)}))`, {
      eval: true,
      workerData: { bodies, connections: NOISY_CONNECTIONS, amount: NOISY_REQUESTS, rate: NOISY_RATE, key: noisyKey },
    });
    const worker = noisy;
    await new Promise<void>((resolve, reject) => {
      worker.once("message", () => resolve());
      worker.once("error", reject);
    });
    const fire = (target: string) =>
      new Promise<{ startedAt: number; endedAt: number; figures: RunFigures; statuses: Record<string, number> }>((resolve, reject) => {
        worker.once("message", resolve);
        worker.once("error", reject);
        worker.postMessage(target);
      });
    console.error(
      `rate-limit isolation: calm key ${CALM_RATE}/s steady, ${WARMUP_SECONDS} s warm-up, then ${ROUNDS} rounds of ` +
        `${ALONE_SECONDS} s alone and the noisy key (limit ${NOISY_PER_SECOND}/s, bursts of ${NOISY_BURST}) sending ${NOISY_REQUESTS} ` +
        `${NOISY_RATE ? `at ${NOISY_RATE}/s` : `as fast as ${NOISY_CONNECTIONS} connections allow`}` +
        (CONTROL ? ", then as many at a bare 429 server…" : "…"),
    );
    const calm = steady({
      url,
      path: "/verify",
      bodies,
      headers: { authorization: `Bearer ${calmKey}` },
      ratePerSec: CALM_RATE,
      connections: CALM_CONNECTIONS,
      isOk: (j: { isValid?: boolean }) => j.isValid === true,
    });
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    await sleep(WARMUP_SECONDS * 1000);
    const toLocal = (epochMs: number) => epochMs - performance.timeOrigin;
    type Fired = Awaited<ReturnType<typeof fire>>;
    // Alone and beside the noisy key in turn, ROUNDS times, the samples of each pooled: one 5-s
    // window's p99 rests on its 25 slowest answers, and the shared cores' hiccups are not the
    // api's. The api's CPU time is read around each window too: per second alone, and what each
    // burst added beyond that rate, spread over the noisy requests.
    const aloneSpans: Span[] = [];
    const bursts: Fired[] = [];
    let aloneCpuMs = 0;
    let burstExtraCpuMs = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const cpu0 = api.cpuMs();
      const aloneFrom = performance.now();
      await sleep(ALONE_SECONDS * 1000);
      const aloneTo = performance.now();
      const cpu1 = api.cpuMs();
      aloneSpans.push([aloneFrom, aloneTo]);
      aloneCpuMs += cpu1 - cpu0;
      const burst = await fire(url);
      const burstTo = performance.now();
      bursts.push(burst);
      burstExtraCpuMs += api.cpuMs() - cpu1 - ((cpu1 - cpu0) / (aloneTo - aloneFrom)) * (burstTo - toLocal(burst.startedAt));
      // Answers to the last calm requests sent during a burst come in after it.
      await sleep(1000);
    }
    const controls: Fired[] = [];
    for (let round = 0; bareUrl && round < ROUNDS; round++) {
      controls.push(await fire(bareUrl));
      await sleep(1000);
    }
    await calm.stop();
    const spansOf = (fired: Fired[]): Span[] => fired.map((b) => [toLocal(b.startedAt), toLocal(b.endedAt)]);
    const burstOf = (fired: Fired[]): Burst => {
      const statuses: Record<string, number> = {};
      for (const b of fired) for (const [k, n] of Object.entries(b.statuses)) statuses[k] = (statuses[k] ?? 0) + n;
      return {
        seconds: fired.reduce((t, b) => t + (b.endedAt - b.startedAt) / 1000, 0),
        requests: fired.reduce((t, b) => t + b.figures.answered, 0),
        statuses,
        // The worst round's, as a pooled quantile cannot be had from per-round figures.
        p50Ms: Math.max(...fired.map((b) => b.figures.p50Ms)),
        p99Ms: Math.max(...fired.map((b) => b.figures.p99Ms)),
      };
    };
    const alone = windowOf(calm.samples, aloneSpans);
    const noisyTotal = bursts.reduce((t, b) => t + b.figures.answered, 0);
    report({
      alone,
      withNoisy: windowOf(calm.samples, spansOf(bursts)),
      ...(controls.length ? { withNoisyElsewhere: windowOf(calm.samples, spansOf(controls)) } : {}),
      calmErrors: calm.errors(),
      noisy: burstOf(bursts),
      ...(controls.length ? { noisyElsewhere: burstOf(controls) } : {}),
      apiCpuMsPerSecAlone: aloneCpuMs / (ALONE_SECONDS * ROUNDS),
      apiCpuUsPerNoisy: (burstExtraCpuMs * 1000) / noisyTotal,
      apiRssMiB: api.peakRssMiB(),
    });
  } finally {
    await noisy?.terminate();
    await Promise.all(procs.map((p) => p.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}

const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : "-");
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : "-");
const pct = (after: number, before: number) => (100 * (after - before)) / before;
const signed = (x: number) => (Number.isFinite(x) ? `${x >= 0 ? "+" : ""}${x.toFixed(0)}%` : "-");

function report(r: {
  alone: Window;
  withNoisy: Window;
  withNoisyElsewhere?: Window;
  calmErrors: number;
  noisy: Burst;
  noisyElsewhere?: Burst;
  apiCpuMsPerSecAlone: number;
  apiCpuUsPerNoisy: number;
  apiRssMiB: number;
}) {
  const { alone } = r;
  const columns = [r.withNoisy, ...(r.withNoisyElsewhere ? [r.withNoisyElsewhere] : [])];
  const cells = (f: (w: Window) => string, change?: (w: Window) => number) =>
    columns.flatMap((w) => [f(w), change ? signed(change(w)) : ""]);
  const rows = [
    [
      "calm /verify p50 ms",
      f2(alone.p50Ms),
      ...cells(
        (w) => f2(w.p50Ms),
        (w) => pct(w.p50Ms, alone.p50Ms),
      ),
    ],
    [
      "calm /verify p99 ms",
      f2(alone.p99Ms),
      ...cells(
        (w) => f2(w.p99Ms),
        (w) => pct(w.p99Ms, alone.p99Ms),
      ),
    ],
    ["calm /verify max ms", f2(alone.maxMs), ...cells((w) => f2(w.maxMs))],
    [
      "calm answered/s",
      f1(alone.answeredPerSec),
      ...cells(
        (w) => f1(w.answeredPerSec),
        (w) => pct(w.answeredPerSec, alone.answeredPerSec),
      ),
    ],
    ["calm isValid:true", `${alone.valid}/${alone.samples}`, ...cells((w) => `${w.valid}/${w.samples}`)],
    ["window s", f2(alone.seconds), ...cells((w) => f2(w.seconds))],
  ];
  const head = [
    "rate-limit isolation",
    "calm alone",
    "+ noisy key",
    "change",
    ...(r.withNoisyElsewhere ? ["+ noisy at bare server", "change"] : []),
  ];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (c: string[]) =>
    c
      .map((x, i) => x.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  console.log(line(head));
  for (const row of rows) console.log(line(row));
  const burst = (name: string, b: Burst) => {
    const statuses = Object.entries(b.statuses)
      .map(([s, n]) => `${n} × ${s}`)
      .join(", ");
    console.log(
      `${name}: ${b.requests} requests in ${f2(b.seconds)} s (${f1(b.requests / b.seconds)}/s; ${statuses}), ` +
        `p50 ${f1(b.p50Ms)} ms, p99 ${f1(b.p99Ms)} ms`,
    );
  };
  burst("noisy key at the api", r.noisy);
  if (r.noisyElsewhere) burst("noisy client at the bare 429 server (control)", r.noisyElsewhere);
  console.log(
    `api CPU time (all its threads): ${f1(r.apiCpuMsPerSecAlone)} ms/s with the calm key alone; ` +
      `each noisy request added about ${f1(r.apiCpuUsPerNoisy)} µs`,
  );
  if (r.calmErrors) console.log(`calm key: ${r.calmErrors} requests failed without an answer`);
  const p99ChangePct = pct(r.withNoisy.p99Ms, alone.p99Ms);
  const met = p99ChangePct <= TARGET_P99_CHANGE_PCT;
  console.log(
    `target: the calm key's /verify p99 moves by no more than ${TARGET_P99_CHANGE_PCT}% while the noisy key sends — ` +
      `${signed(p99ChangePct)}: ${met ? "met" : "MISSED"}`,
  );
  const record = {
    at: new Date().toISOString(),
    scenario: "rate-limit-isolation",
    cpus: cpus().length,
    node: process.version,
    apiProcesses: Number(env.BENCH_API_PROCESSES ?? 1),
    calmRate: CALM_RATE,
    calmConnections: CALM_CONNECTIONS,
    warmupSeconds: WARMUP_SECONDS,
    noisyRequests: NOISY_REQUESTS,
    noisyConnections: NOISY_CONNECTIONS,
    noisyPerSecond: NOISY_PER_SECOND,
    noisyBurst: NOISY_BURST,
    noisyRate: NOISY_RATE ?? "flood",
    rounds: ROUNDS,
    ...r,
    p99ChangePct,
    targetPct: TARGET_P99_CHANGE_PCT,
    met,
  };
  appendFileSync(new URL("./results.jsonl", import.meta.url), JSON.stringify(record) + "\n");
}
