// Load runs through autocannon: every request carries a different pre-signed body, and each
// answer is read to count verdicts (an HTTP 200 with isValid:false is not a success).
import http from "node:http";
import { performance } from "node:perf_hooks";
import { isMainThread } from "node:worker_threads";
import autocannon from "autocannon";

export interface RunFigures {
  requestsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  ok: number;
  answered: number;
  errors: number;
  seconds: number;
}

export async function run(opts: {
  url: string;
  path: "/verify" | "/settle";
  bodies: string[];
  connections: number;
  durationS?: number;
  amount?: number;
  /** Requests a second over all connections; unset, as fast as the connections allow. */
  overallRate?: number;
  headers?: Record<string, string>;
  /** Told every answer's HTTP status. */
  onStatus?(status: number): void;
  isOk(json: any): boolean;
}): Promise<RunFigures> {
  let next = 0;
  let ok = 0;
  let answered = 0;
  const onResponse = (status: number, body: string) => {
    answered++;
    opts.onStatus?.(status);
    try {
      if (status === 200 && opts.isOk(JSON.parse(body))) ok++;
    } catch {
      // not JSON: counted as answered, not ok
    }
  };
  const request = {
    method: "POST" as const,
    path: opts.path,
    headers: { ...opts.headers, "content-type": "application/json" },
    onResponse,
  };
  // A timed run sends every body many times. Each connection walks the bodies from an offset of
  // its own, as requests autocannon builds once, so the load generator takes less of the cores it
  // shares with the system under test. A counted run (settlement) sends each body exactly once.
  const timed = opts.durationS !== undefined;
  const prebuilt = timed ? opts.bodies.map((body) => ({ ...request, body })) : [];
  const stride = Math.max(1, Math.floor(prebuilt.length / opts.connections));
  let clients = 0;
  const walkFromOwnOffset = (client: autocannon.Client) => {
    const at = (clients++ * stride) % prebuilt.length;
    client.setRequests([...prebuilt.slice(at), ...prebuilt.slice(0, at)]);
  };
  const started = Date.now();
  const raw = await autocannon({
    url: opts.url,
    connections: opts.connections,
    ...(opts.durationS ? { duration: opts.durationS } : {}),
    ...(opts.amount ? { amount: opts.amount } : {}),
    ...(opts.overallRate ? { overallRate: opts.overallRate } : {}),
    timeout: 120,
    ...(timed
      ? { setupClient: walkFromOwnOffset, requests: [prebuilt[0]!] }
      : { requests: [{ ...request, setupRequest: (req) => ({ ...req, body: opts.bodies[next++ % opts.bodies.length] }) }] }),
  });
  const seconds = (Date.now() - started) / 1000;
  // On a worker thread autocannon takes itself for one of its own workers and hands back raw histograms.
  const result: autocannon.Result = isMainThread
    ? raw
    : (autocannon as unknown as { aggregateResult(r: unknown[], o: object): autocannon.Result }).aggregateResult([raw], {
        url: opts.url,
        connections: opts.connections,
      });
  return {
    requestsPerSec: opts.durationS ? result.requests.average : answered / seconds,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    ok,
    answered,
    errors: result.errors + result.timeouts + result.non2xx,
    seconds,
  };
}

/** One answer of a steady load: when it was sent (performance.now() ms), how long it took, and its verdict. */
export interface Sample {
  sentAt: number;
  ms: number;
  ok: boolean;
  status: number;
}

/**
 * An open-loop load at a fixed rate, as a client with steady traffic sends it: a request every
 * 1/rate seconds on keep-alive connections, whether or not earlier ones have answered (autocannon's
 * own rate limit sends each second's quota in a burst at the start of the second). Every answer is
 * kept with its send time, so a run can be cut into windows afterwards; latency is timed per
 * request in fractions of a millisecond, from the send to the last byte of the answer.
 */
export function steady(opts: {
  url: string;
  path: string;
  bodies: string[];
  headers: Record<string, string>;
  ratePerSec: number;
  connections: number;
  isOk(json: any): boolean;
}): { samples: Sample[]; errors: () => number; sent: () => number; stop(): Promise<void> } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.connections });
  const target = new URL(opts.path, opts.url);
  const samples: Sample[] = [];
  const interval = 1000 / opts.ratePerSec;
  const started = performance.now();
  let sent = 0;
  let inFlight = 0;
  let errors = 0;
  let stopped = false;
  let drained: (() => void) | undefined;
  const send = () => {
    const body = opts.bodies[sent++ % opts.bodies.length]!;
    inFlight++;
    const sentAt = performance.now();
    const done = () => {
      if (--inFlight === 0 && stopped) drained?.();
    };
    const req = http.request(
      target,
      {
        method: "POST",
        agent,
        headers: { ...opts.headers, "content-type": "application/json", "content-length": Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const ms = performance.now() - sentAt;
          let ok = false;
          try {
            ok = res.statusCode === 200 && opts.isOk(JSON.parse(Buffer.concat(chunks).toString()));
          } catch {
            // not JSON: answered, not ok
          }
          samples.push({ sentAt, ms, ok, status: res.statusCode ?? 0 });
          done();
        });
      },
    );
    req.on("error", () => {
      errors++;
      done();
    });
    req.end(body);
  };
  // A 1 ms tick sends every request that is due by now, so the rate holds even when a tick is late.
  const tick = setInterval(() => {
    const due = Math.floor((performance.now() - started) / interval);
    while (sent < due) send();
  }, 1);
  return {
    samples,
    errors: () => errors,
    sent: () => sent,
    stop: () =>
      new Promise<void>((resolve) => {
        stopped = true;
        clearInterval(tick);
        drained = () => (agent.destroy(), resolve());
        if (inFlight === 0) drained();
      }),
  };
}
