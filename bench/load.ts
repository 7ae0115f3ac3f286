// Load runs through autocannon: every request carries a different pre-signed body, and each
// answer is read to count verdicts (an HTTP 200 with isValid:false is not a success).
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
  isOk(json: any): boolean;
}): Promise<RunFigures> {
  let next = 0;
  let ok = 0;
  let answered = 0;
  const started = Date.now();
  const result = await autocannon({
    url: opts.url,
    connections: opts.connections,
    ...(opts.durationS ? { duration: opts.durationS } : {}),
    ...(opts.amount ? { amount: opts.amount } : {}),
    timeout: 120,
    requests: [
      {
        method: "POST",
        path: opts.path,
        headers: { "content-type": "application/json" },
        setupRequest: (req) => ({ ...req, body: opts.bodies[next++ % opts.bodies.length] }),
        onResponse: (status, body) => {
          answered++;
          try {
            if (status === 200 && opts.isOk(JSON.parse(body))) ok++;
          } catch {
            // not JSON: counted as answered, not ok
          }
        },
      },
    ],
  });
  const seconds = (Date.now() - started) / 1000;
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
