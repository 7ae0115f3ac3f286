// The noisy client of the rate-limit isolation scenario, on a thread of its own so its sending
// does not delay the calm client's: for each URL it is sent, fires its requests there (as fast as
// its connections allow, or evenly paced at `rate` a second) and posts back its figures with when
// it started and when its last answer came (epoch ms, sub-ms precision: autocannon itself only
// notices it is done at its next one-second tick).
import { parentPort, workerData } from "node:worker_threads";
import { performance } from "node:perf_hooks";
import { run, steady, type RunFigures } from "./load.js";

const o = workerData as { bodies: string[]; connections: number; amount: number; rate?: number; key: string };
const epochNow = () => performance.timeOrigin + performance.now();
const headers = { authorization: `Bearer ${o.key}` };
const isOk = (j: { isValid?: boolean }) => j.isValid === true;

async function flood(url: string, statuses: Record<number, number>, answered: () => void): Promise<RunFigures> {
  return run({
    url,
    path: "/verify",
    bodies: o.bodies,
    connections: o.connections,
    amount: o.amount,
    headers,
    onStatus: (s) => {
      statuses[s] = (statuses[s] ?? 0) + 1;
      answered();
    },
    isOk,
  });
}

async function paced(url: string, rate: number, statuses: Record<number, number>): Promise<RunFigures> {
  const load = steady({ url, path: "/verify", bodies: o.bodies, headers, ratePerSec: rate, connections: o.connections, isOk });
  const started = performance.now();
  while (load.sent() < o.amount) await new Promise((r) => setTimeout(r, 2));
  await load.stop();
  const seconds = (performance.now() - started) / 1000;
  const ms = load.samples.map((s) => s.ms).sort((a, b) => a - b);
  const at = (q: number) => ms[Math.max(0, Math.ceil(q * ms.length) - 1)] ?? NaN;
  for (const s of load.samples) statuses[s.status] = (statuses[s.status] ?? 0) + 1;
  return {
    requestsPerSec: load.samples.length / seconds,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    ok: load.samples.filter((s) => s.ok).length,
    answered: load.samples.length,
    errors: load.errors(),
    seconds,
  };
}

parentPort!.on("message", async (url: string) => {
  const statuses: Record<number, number> = {};
  const startedAt = epochNow();
  let endedAt = startedAt;
  const figures = o.rate ? await paced(url, o.rate, statuses) : await flood(url, statuses, () => (endedAt = epochNow()));
  if (o.rate) endedAt = epochNow();
  parentPort!.postMessage({ startedAt, endedAt, figures, statuses });
});
parentPort!.postMessage("ready");
