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
  const onResponse = (status: number, body: string) => {
    answered++;
    try {
      if (status === 200 && opts.isOk(JSON.parse(body))) ok++;
    } catch {
      // not JSON: counted as answered, not ok
    }
  };
  const request = { method: "POST" as const, path: opts.path, headers: { "content-type": "application/json" }, onResponse };
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
  const result = await autocannon({
    url: opts.url,
    connections: opts.connections,
    ...(opts.durationS ? { duration: opts.durationS } : {}),
    ...(opts.amount ? { amount: opts.amount } : {}),
    timeout: 120,
    ...(timed
      ? { setupClient: walkFromOwnOffset, requests: [prebuilt[0]!] }
      : { requests: [{ ...request, setupRequest: (req) => ({ ...req, body: opts.bodies[next++ % opts.bodies.length] }) }] }),
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
