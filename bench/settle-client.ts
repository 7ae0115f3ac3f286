// The settlement load: every pre-signed payment is sent to /settle exactly once, `inFlight` at a
// time, as a resource server would; an answer of `settlement_pending` is retried with the same
// body after `retryAfterMs`, as the official middleware's caller would, until it is decided.
// Every request is timed on its own; each payment's time runs from its first send to its final answer.
import http from "node:http";
import { performance } from "node:perf_hooks";

export interface SettleLoadFigures {
  /** Payments answered success:true (after retries). */
  settled: number;
  /** Payments finally answered something else, by reason. */
  refused: Record<string, number>;
  /** Requests that failed without an HTTP answer, or answered non-200. */
  errors: number;
  /** Answers of settlement_pending, and of those, how many were later answered success on retry. */
  pendingAnswers: number;
  pendingThenSettled: number;
  /** From the first send to the last payment's final answer. */
  seconds: number;
  /** Per request (pending answers included). */
  requestP50Ms: number;
  requestP99Ms: number;
  /** Per payment: first send to final answer. */
  paymentP50Ms: number;
  paymentP99Ms: number;
}

const quantile = (sorted: number[], q: number) => (sorted.length ? sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]! : NaN);

export async function settleLoad(o: {
  url: string;
  bodies: string[];
  inFlight: number;
  retryAfterMs?: number;
  /** A payment still undecided after this long is counted as refused ("gave_up"). */
  giveUpMs?: number;
}): Promise<SettleLoadFigures> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.inFlight });
  const target = new URL("/settle", o.url);
  const post = (body: string) =>
    new Promise<{ status: number; json: any }>((resolve) => {
      const req = http.request(
        target,
        { method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            let json: any;
            try {
              json = JSON.parse(Buffer.concat(chunks).toString());
            } catch {
              json = undefined;
            }
            resolve({ status: res.statusCode ?? 0, json });
          });
        },
      );
      req.setTimeout(120_000, () => req.destroy(new Error("timeout")));
      req.on("error", () => resolve({ status: 0, json: undefined }));
      req.end(body);
    });

  const requestMs: number[] = [];
  const paymentMs: number[] = [];
  const refused: Record<string, number> = {};
  let settled = 0;
  let errors = 0;
  let pendingAnswers = 0;
  let pendingThenSettled = 0;
  let next = 0;
  const started = performance.now();
  let lastAnswer = started;
  const retryAfterMs = o.retryAfterMs ?? 1_000;
  const giveUpMs = o.giveUpMs ?? 180_000;

  async function pay(body: string) {
    const first = performance.now();
    let wasPending = false;
    for (;;) {
      const sent = performance.now();
      const { status, json } = await post(body);
      const now = performance.now();
      requestMs.push(now - sent);
      const pending = status === 200 && json?.success === false && json?.errorReason === "settlement_pending";
      if (pending) pendingAnswers++;
      if (pending && now - first < giveUpMs) {
        wasPending = true;
        await new Promise((r) => setTimeout(r, retryAfterMs));
        continue;
      }
      lastAnswer = now;
      paymentMs.push(now - first);
      if (status !== 200) errors++;
      else if (json?.success === true) {
        settled++;
        if (wasPending) pendingThenSettled++;
      } else {
        const why = pending ? "gave_up" : String(json?.errorReason ?? "unknown");
        refused[why] = (refused[why] ?? 0) + 1;
      }
      return;
    }
  }

  await Promise.all(
    Array.from({ length: Math.min(o.inFlight, o.bodies.length) }, async () => {
      while (next < o.bodies.length) await pay(o.bodies[next++]!);
    }),
  );
  agent.destroy();
  requestMs.sort((a, b) => a - b);
  paymentMs.sort((a, b) => a - b);
  return {
    settled,
    refused,
    errors,
    pendingAnswers,
    pendingThenSettled,
    seconds: (lastAnswer - started) / 1000,
    requestP50Ms: quantile(requestMs, 0.5),
    requestP99Ms: quantile(requestMs, 0.99),
    paymentP50Ms: quantile(paymentMs, 0.5),
    paymentP99Ms: quantile(paymentMs, 0.99),
  };
}
