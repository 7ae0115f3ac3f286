// A lean JSON-RPC transport for viem: requests made in the same event-loop turn go out as one
// batch over a keep-alive connection (node:http, no fetch streams), several URLs fail over in
// order, and errors are viem's own (RpcRequestError for a node's answer, HttpRequestError when
// the node could not be asked) so every caller classifies them as before.
import http from "node:http";
import https from "node:https";
import { custom, HttpRequestError, RpcRequestError, type Transport } from "viem";
import type { RpcObserver } from "../metrics/rpc.js";

interface Pending {
  body: { jsonrpc: "2.0"; id: number; method: string; params: unknown };
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

interface RpcAnswer {
  id: number;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

export interface RpcTransportOptions {
  timeoutMs?: number;
  maxBatch?: number;
  /** After a failover, how long before the first URL is tried again. */
  primaryRetryMs?: number;
  /** Told of every request's outcome at each endpoint tried (metrics). */
  observe?: RpcObserver;
}

function post(url: URL, payload: string, agent: http.Agent, timeoutMs: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const lib = url.protocol === "https:" ? https : http;
    const req = lib.request(
      url,
      {
        method: "POST",
        agent,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(payload) },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          if ((res.statusCode ?? 0) < 200 || (res.statusCode ?? 0) >= 300) return reject(new Error(`HTTP ${res.statusCode}`));
          try {
            resolve(JSON.parse(text));
          } catch {
            reject(new Error("the answer is not JSON"));
          }
        });
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(payload);
  });
}

export function rpcTransport(urls: readonly string[], opts: RpcTransportOptions = {}): Transport {
  const targets = urls.map((u) => new URL(u));
  const agents = targets.map((t) => new (t.protocol === "https:" ? https.Agent : http.Agent)({ keepAlive: true, maxSockets: 64 }));
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const maxBatch = opts.maxBatch ?? 100;
  let preferred = 0;
  let primaryAgainAt = 0;
  let nextId = 1;
  let queue: Pending[] = [];
  let scheduled = false;

  async function send(batch: Pending[]): Promise<void> {
    const payload = JSON.stringify(batch.map((p) => p.body));
    const start = preferred !== 0 && Date.now() >= primaryAgainAt ? 0 : preferred;
    let lastError: unknown;
    const observe = (i: number, began: number, ok: (p: Pending) => boolean) => {
      if (!opts.observe) return;
      const seconds = (performance.now() - began) / 1000;
      for (const p of batch) opts.observe({ endpoint: targets[i]!.host, method: p.body.method, ok: ok(p), seconds });
    };
    for (let k = 0; k < targets.length; k++) {
      const i = (start + k) % targets.length;
      const began = performance.now();
      try {
        const answers = await post(targets[i]!, payload, agents[i]!, timeoutMs).catch((err: unknown) => {
          observe(i, began, () => false);
          throw err;
        });
        if (!Array.isArray(answers)) throw new Error("the answer to a batch is not an array");
        if (i !== preferred) {
          preferred = i;
          primaryAgainAt = Date.now() + (opts.primaryRetryMs ?? 30_000);
        }
        const byId = new Map((answers as RpcAnswer[]).map((a) => [a.id, a]));
        // An error answer (a revert) is still an answer: only a missing one counts against the endpoint.
        observe(i, began, (p) => byId.has(p.body.id));
        for (const p of batch) {
          const a = byId.get(p.body.id);
          if (!a)
            p.reject(new HttpRequestError({ url: targets[i]!.origin, body: p.body, details: "no answer for this request in the batch" }));
          else if (a.error) p.reject(new RpcRequestError({ body: p.body, error: a.error, url: targets[i]!.origin }));
          else p.resolve(a.result);
        }
        return;
      } catch (err) {
        lastError = err;
      }
    }
    // The origin only: provider URLs carry API keys in paths and queries.
    const details = lastError instanceof Error ? lastError.message : String(lastError);
    for (const p of batch) p.reject(new HttpRequestError({ url: targets[preferred]!.origin, body: p.body, details }));
  }

  function flush() {
    scheduled = false;
    const all = queue;
    queue = [];
    for (let i = 0; i < all.length; i += maxBatch) void send(all.slice(i, i + maxBatch));
  }

  return custom(
    {
      request: ({ method, params }) =>
        new Promise((resolve, reject) => {
          queue.push({ body: { jsonrpc: "2.0", id: nextId++, method, params }, resolve, reject });
          if (!scheduled) {
            scheduled = true;
            setImmediate(flush);
          }
        }),
    },
    { retryCount: 0 },
  );
}
