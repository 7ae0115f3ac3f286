// A webhook receiver on 127.0.0.1 for tests: it answers each request as the test scripted it
// (a status with headers, a dropped connection, or an answer held back until the test lets it
// go), keeps every request byte for byte, and checks its Standard Webhooks signature against
// each secret it was told to trust, one by one, so a test can tell which secrets a delivery
// verifies with and assert that none went unverified.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";

export type Reply =
  | { status: number; headers?: Record<string, string>; body?: string }
  /** The connection is dropped without an answer, as a receiver that crashed mid-request would. */
  | { down: true }
  /** `then` is answered only once `until` settles, so the delivery stays in flight meanwhile. */
  | { until: Promise<unknown>; then: Reply };

export interface Received {
  /** Arrival time (Date.now()). */
  at: number;
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  /** The raw body, exactly as sent (signatures cover these bytes). */
  body: string;
  /** The body parsed, or undefined when it is not JSON. */
  json: any;
  /** The webhook-id header. */
  id: string;
  /** The labels of the trusted secrets whose check this request passes, in the order they were trusted. */
  verifiedBy: string[];
  reply: Reply;
}

export interface WebhookReceiver {
  url: string;
  received: Received[];
  /** Adds a secret (whsec_…) to check every later request against, under `label`. */
  trust(label: string, secret: string): void;
  /** Queues answers for the next requests, in order; once the queue is empty every request gets 200. */
  reply(...replies: Reply[]): void;
  /** Requests whose body has this event type. */
  ofType(type: string): Received[];
  /** Resolves with the requests once `ok` holds for them; rejects after `timeoutMs`, listing what arrived. */
  waitFor(ok: (received: Received[]) => boolean, timeoutMs?: number, what?: string): Promise<Received[]>;
  close(): Promise<void>;
}

/** Whether `secret` alone verifies the request, as a receiver holding only it would check. */
export function verifies(secret: string, r: Pick<Received, "body" | "headers">): boolean {
  try {
    new Webhook(secret).verify(r.body, {
      "webhook-id": String(r.headers["webhook-id"] ?? ""),
      "webhook-timestamp": String(r.headers["webhook-timestamp"] ?? ""),
      "webhook-signature": String(r.headers["webhook-signature"] ?? ""),
    });
    return true;
  } catch {
    return false;
  }
}

export async function startWebhookReceiver(secrets: Record<string, string> = {}): Promise<WebhookReceiver> {
  const trusted = new Map(Object.entries(secrets));
  const script: Reply[] = [];
  const received: Received[] = [];

  const answer = async (reply: Reply, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    if ("until" in reply) {
      await reply.until.catch(() => undefined);
      return answer(reply.then, req, res);
    }
    if ("down" in reply) {
      req.socket.destroy();
      return;
    }
    res.writeHead(reply.status, { "content-type": "text/plain", ...reply.headers });
    res.end(reply.body ?? "");
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
      const reply = script.shift() ?? { status: 200 };
      const r: Received = {
        at: Date.now(),
        method: req.method ?? "",
        path: req.url ?? "",
        headers: req.headers,
        body,
        json,
        id: String(req.headers["webhook-id"] ?? ""),
        verifiedBy: [...trusted].filter(([, secret]) => verifies(secret, { body, headers: req.headers })).map(([label]) => label),
        reply,
      };
      received.push(r);
      void answer(reply, req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  const summary = () =>
    received.map((r) => `${new Date(r.at).toISOString()} ${r.json?.type ?? "?"} id=${r.id} verifiedBy=[${r.verifiedBy}]`).join("\n") ||
    "(nothing)";

  return {
    url: `http://127.0.0.1:${port}/hooks`,
    received,
    trust: (label, secret) => void trusted.set(label, secret),
    reply: (...replies) => void script.push(...replies),
    ofType: (type) => received.filter((r) => r.json?.type === type),
    async waitFor(ok, timeoutMs = 15_000, what = "the expected requests") {
      const deadline = Date.now() + timeoutMs;
      while (!ok(received)) {
        if (Date.now() > deadline) throw new Error(`the receiver did not get ${what} within ${timeoutMs} ms; it got:\n${summary()}`);
        await new Promise((r) => setTimeout(r, 25));
      }
      return received;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
