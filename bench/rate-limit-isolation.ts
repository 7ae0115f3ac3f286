// Rate-limit isolation: does one key hammering the api slow the others down? Our api alone (no
// worker), with API_KEYS_FILE holding two keys: `noisy`, limited to 50 requests a second, and
// `calm`, with no limit. The calm key sends valid /verify payloads at a steady rate the whole time:
// an unmeasured warm-up, a measured window alone, then a measured window while the noisy key, on
// a thread of its own, fires 2,000 /verify requests as fast as its connections allow (all but
// about 50 a second answered 429). The calm key's answers are split by when they were sent; the
// target is that its p99 moves by no more than 20%. Then, as a control, the noisy client fires the
// same 2,000 at a bare server that answers 429 at once (bench/bare-429-server.ts): what its load
// alone costs the calm key on the shared cores, before the api does any work for it. Prints a
// table and appends a JSON line (scenario: "rate-limit-isolation") to bench/results.jsonl.
import { randomBytes } from "node:crypto";
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { Worker } from "node:worker_threads";
import { firstLine, freePort, startProcess, waitForHttp, type Proc } from "./lab.js";
import { steady, type RunFigures, type Sample } from "./load.js";

const env = process.env;
const CALM_RATE = Number(env.BENCH_RL_CALM_RATE ?? 500);
const CALM_CONNECTIONS = Number(env.BENCH_RL_CALM_CONNECTIONS ?? 32);
const WARMUP_SECONDS = Number(env.BENCH_WARMUP_SECONDS ?? 3);
const ALONE_SECONDS = Number(env.BENCH_RL_ALONE_SECONDS ?? 5);
const NOISY_REQUESTS = Number(env.BENCH_RL_NOISY_REQUESTS ?? 2000);
const NOISY_CONNECTIONS = Number(env.BENCH_RL_NOISY_CONNECTIONS ?? 32);
const CONTROL = env.BENCH_RL_CONTROL !== "0";
const NOISY_PER_SECOND = 50;
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

function windowOf(samples: Sample[], from: number, to: number): Window {
  const sent = samples.filter((s) => s.sentAt >= from && s.sentAt < to);
  const ms = sent.map((s) => s.ms).sort((a, b) => a - b);
  const answered = samples.filter((s) => s.sentAt + s.ms >= from && s.sentAt + s.ms < to).length;
  const seconds = (to - from) / 1000;
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
      { id: "noisy", key: noisyKey, rateLimit: { perSecond: NOISY_PER_SECOND } },
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
    const api = startProcess(["src/main.ts", "api"], apiEnv, [...nodeFlags, ...profile]);
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
      workerData: { bodies, connections: NOISY_CONNECTIONS, amount: NOISY_REQUESTS, key: noisyKey },
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
      `rate-limit isolation: calm key ${CALM_RATE}/s steady, ${WARMUP_SECONDS} s warm-up + ${ALONE_SECONDS} s alone, ` +
        `then the noisy key (${NOISY_PER_SECOND}/s limit) fires ${NOISY_REQUESTS} at ${NOISY_CONNECTIONS} connections` +
        (CONTROL ? ", then the same at a bare 429 server…" : "…"),
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
    // The api's CPU time too: per second alone, and what the burst added to it.
    const cpu0 = api.cpuMs();
    const aloneFrom = performance.now();
    await sleep(ALONE_SECONDS * 1000);
    const aloneTo = performance.now();
    const cpu1 = api.cpuMs();
    const burst = await fire(url);
    const burstTo = performance.now();
    const cpu2 = api.cpuMs();
    // Answers to the last calm requests sent during a burst come in after it.
    await sleep(1000);
    const control = bareUrl ? await fire(bareUrl) : undefined;
    if (control) await sleep(500);
    await calm.stop();
    const toLocal = (epochMs: number) => epochMs - performance.timeOrigin;
    const during = (b: typeof burst) => windowOf(calm.samples, toLocal(b.startedAt), toLocal(b.endedAt));
    const burstOf = (b: typeof burst): Burst => ({
      seconds: (b.endedAt - b.startedAt) / 1000,
      requests: b.figures.answered,
      statuses: b.statuses,
      p50Ms: b.figures.p50Ms,
      p99Ms: b.figures.p99Ms,
    });
    const alone = windowOf(calm.samples, aloneFrom, aloneTo);
    // What the api spent from the burst's start until the noisy thread reported, beyond its rate
    // alone (the calm load and idle work), spread over the noisy requests.
    const aloneCpuMsPerSec = (cpu1 - cpu0) / alone.seconds;
    const burstWallSeconds = (burstTo - toLocal(burst.startedAt)) / 1000;
    const noisyCpuUs = ((cpu2 - cpu1 - aloneCpuMsPerSec * burstWallSeconds) * 1000) / burst.figures.answered;
    report({
      alone,
      withNoisy: during(burst),
      ...(control ? { withNoisyElsewhere: during(control) } : {}),
      calmErrors: calm.errors(),
      noisy: burstOf(burst),
      ...(control ? { noisyElsewhere: burstOf(control) } : {}),
      apiCpuMsPerSecAlone: aloneCpuMsPerSec,
      apiCpuUsPerNoisy: noisyCpuUs,
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
  const met = Math.abs(p99ChangePct) <= TARGET_P99_CHANGE_PCT;
  console.log(
    `target: the calm key's /verify p99 changes by no more than ${TARGET_P99_CHANGE_PCT}% while the noisy key fires — ` +
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
    ...r,
    p99ChangePct,
    targetPct: TARGET_P99_CHANGE_PCT,
    met,
  };
  appendFileSync(new URL("./results.jsonl", import.meta.url), JSON.stringify(record) + "\n");
}
