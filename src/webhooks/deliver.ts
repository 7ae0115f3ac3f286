// One delivery attempt: the event's stored body, POSTed with Standard Webhooks headers and
// signatures (during a rotation, one signature per live secret, so receivers holding either
// verify it), a 15 s limit, no redirects, and the target address checked as it is connected.
import http from "node:http";
import https from "node:https";
import { isIP } from "node:net";
import { Webhook } from "standardwebhooks";
import { guardedLookup, isPrivateAddress, PrivateTargetError } from "./targets.js";

export const DELIVERY_TIMEOUT_MS = 15_000;

export interface Attempt {
  /** The event id: the webhook-id header, the same on every attempt. */
  id: string;
  url: string;
  body: string;
  secrets: readonly string[];
  allowPrivate: boolean;
  timeoutMs?: number;
}

export type AttemptResult =
  { ok: true; status: number } | { ok: false; status?: number; error: string; retryAfterMs?: number; gone?: boolean };

export function signatureHeaders(id: string, body: string, secrets: readonly string[], at = new Date()): Record<string, string> {
  return {
    "webhook-id": id,
    "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
    "webhook-signature": secrets.map((s) => new Webhook(s).sign(id, at, body)).join(" "),
  };
}

/** Retry-After in seconds or as an HTTP date. */
export function retryAfterMs(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export function attempt(a: Attempt): Promise<AttemptResult> {
  const url = new URL(a.url);
  const host = url.hostname.replace(/^\[|\]$/g, "");
  // An address written in the URL is never looked up, so it is checked here.
  if (!a.allowPrivate && isIP(host) && isPrivateAddress(host))
    return Promise.resolve({ ok: false, error: new PrivateTargetError(host, host).message });
  const lib = url.protocol === "https:" ? https : http;
  return new Promise((resolve) => {
    const req = lib.request(
      url,
      {
        method: "POST",
        lookup: guardedLookup(a.allowPrivate) as never,
        headers: {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(a.body),
          "user-agent": "x402-facilitator-webhooks",
          ...signatureHeaders(a.id, a.body, a.secrets),
        },
        timeout: a.timeoutMs ?? DELIVERY_TIMEOUT_MS,
      },
      (res) => {
        // The answer's body is not needed: read and drop it so the socket is freed.
        res.resume();
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) return resolve({ ok: true, status });
        const header = res.headers["retry-after"];
        resolve({
          ok: false,
          status,
          error: status >= 300 && status < 400 ? `redirect (${status}) is not followed` : `HTTP ${status}`,
          retryAfterMs: retryAfterMs(Array.isArray(header) ? header[0] : header),
          gone: status === 410,
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer in ${a.timeoutMs ?? DELIVERY_TIMEOUT_MS} ms`)));
    req.on("error", (err) => resolve({ ok: false, error: err.message.slice(0, 300) }));
    req.end(a.body);
  });
}
