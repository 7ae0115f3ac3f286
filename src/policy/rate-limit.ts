// Rate limits per API key (per client address when the api is open), counted in Redis so every
// api process shares them: a fixed window of `burst` requests (default: perSecond, at least 1)
// lasting burst / perSecond seconds, so the average is perSecond and a burst may come at once;
// from the key's policy or RATE_LIMIT_PER_SECOND / RATE_LIMIT_BURST. Over it: 429 with JSON and
// Retry-After. Health, readiness and metrics are never limited. Without Redis the limit is not
// enforced rather than refusing every request.
//
// Once Redis has said a key is over its limit, this process answers that key's further requests
// from memory until the window's end (the Redis key's expiry, the same for every replica), so a
// client hammering over its limit costs one hash and no Redis round trip per request, and the
// keys within their limits keep Redis and the event loop to themselves.
import rateLimit from "@fastify/rate-limit";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Redis } from "ioredis";
import type { KeyRing } from "../http/auth.js";
import type { KeyPolicy } from "./api-keys.js";

export interface RateLimitDeps {
  redis: Redis;
  prefix: string;
  keys?: KeyRing;
  defaults?: { perSecond: number; burst?: number };
}

const EXEMPT = /\/(health|healthz|readyz|metrics)$/;
/** Keys remembered as over their limit; past this many the expired ones go, then the oldest. */
const MAX_REMEMBERED = 10_000;

type Limit = { perSecond: number; burst?: number };
export const windowMax = (l: Limit) => Math.max(1, Math.floor(l.burst ?? l.perSecond));
export const windowMs = (l: Limit) => Math.max(1, Math.round((windowMax(l) * 1000) / l.perSecond));

export async function registerRateLimit(app: FastifyInstance, deps: RateLimitDeps): Promise<void> {
  // The key is matched once per request (a digest and a pass over the ring), however often asked.
  const seen = new WeakMap<FastifyRequest, KeyPolicy | null>();
  const policyOf = (req: FastifyRequest) => {
    let p = seen.get(req);
    if (p === undefined) seen.set(req, (p = deps.keys?.match(req.headers.authorization) ?? null));
    return p ?? undefined;
  };
  const limitOf = (req: FastifyRequest) => policyOf(req)?.rateLimit ?? deps.defaults;
  const keyOf = (req: FastifyRequest) => {
    const policy = policyOf(req);
    return policy ? `key:${policy.id}` : `ip:${req.ip}`;
  };
  const refused = (req: FastifyRequest) => req.log.info({ rule: "rate_limit", keyId: policyOf(req)?.id }, "request refused by policy");
  const overLimit = new OverLimit(MAX_REMEMBERED);

  // Runs before the plugin's own per-route hook, which would ask Redis.
  app.addHook("onRequest", (req, reply, done) => {
    if (!deps.keys && !deps.defaults) return done();
    const known = overLimit.get(keyOf(req));
    if (!known || EXEMPT.test(req.url.split("?")[0]!)) return done();
    refused(req);
    const seconds = Math.ceil(known.leftMs / 1000);
    void reply
      .code(429)
      .headers({ "x-ratelimit-limit": known.max, "x-ratelimit-remaining": 0, "x-ratelimit-reset": seconds, "retry-after": seconds })
      .send({ error: "rate_limited", message: message(known.max, known.after, known.leftMs) });
  });
  await app.register(rateLimit, {
    global: true,
    redis: deps.redis,
    nameSpace: `${deps.prefix}:rate-limit:`,
    skipOnError: true,
    timeWindow: (req) => {
      const limit = limitOf(req);
      return limit ? windowMs(limit) : 1000;
    },
    allowList: (req) => EXEMPT.test(req.url.split("?")[0]!) || !limitOf(req),
    keyGenerator: keyOf,
    max: (req) => {
      const limit = limitOf(req);
      return limit ? windowMax(limit) : Number.MAX_SAFE_INTEGER;
    },
    onExceeded: refused,
    errorResponseBuilder: (req, ctx) => {
      overLimit.set(keyOf(req), { max: ctx.max, after: ctx.after }, ctx.ttl);
      return { statusCode: 429, error: "rate_limited", message: message(ctx.max, ctx.after, ctx.ttl) };
    },
  });
}

const message = (max: number, after: string, leftMs: number) =>
  `more than ${max} requests in ${after}; retry in ${Math.ceil(leftMs / 1000)} s`;

interface Refusal {
  max: number;
  /** The window's length as the plugin words it ("1 second"). */
  after: string;
}

/** Keys over their limit and until when, bounded so a flood of client addresses cannot grow it. */
export class OverLimit {
  private readonly until = new Map<string, Refusal & { until: number }>();
  constructor(private readonly capacity: number) {}

  set(key: string, refusal: Refusal, ttlMs: number): void {
    if (ttlMs <= 0) return;
    if (this.until.size >= this.capacity && !this.until.has(key)) this.makeRoom();
    this.until.set(key, { ...refusal, until: Date.now() + ttlMs });
  }

  get(key: string): (Refusal & { leftMs: number }) | undefined {
    const entry = this.until.get(key);
    if (!entry) return undefined;
    const leftMs = entry.until - Date.now();
    if (leftMs > 0) return { max: entry.max, after: entry.after, leftMs };
    this.until.delete(key);
    return undefined;
  }

  get size(): number {
    return this.until.size;
  }

  private makeRoom(): void {
    const now = Date.now();
    for (const [key, entry] of this.until) if (entry.until <= now) this.until.delete(key);
    // Insertion order is age order: the oldest go first.
    for (const key of this.until.keys()) {
      if (this.until.size < this.capacity) break;
      this.until.delete(key);
    }
  }
}
