// Rate limits per API key (per client address when the api is open), counted in Redis so every
// api process shares them: a fixed window of `burst` requests (default: perSecond, at least 1)
// lasting burst / perSecond seconds, so the average is perSecond and a burst may come at once;
// from the key's policy or RATE_LIMIT_PER_SECOND / RATE_LIMIT_BURST. Over it: 429 with JSON and
// Retry-After. Health, readiness and metrics are never limited. Without Redis the limit is not
// enforced rather than refusing every request.
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
    keyGenerator: (req) => {
      const policy = policyOf(req);
      return policy ? `key:${policy.id}` : `ip:${req.ip}`;
    },
    max: (req) => {
      const limit = limitOf(req);
      return limit ? windowMax(limit) : Number.MAX_SAFE_INTEGER;
    },
    onExceeded: (req) => req.log.info({ rule: "rate_limit", keyId: policyOf(req)?.id }, "request refused by policy"),
    errorResponseBuilder: (_req, ctx) => ({
      statusCode: 429,
      error: "rate_limited",
      message: `more than ${ctx.max} requests in ${ctx.after}; retry in ${Math.ceil(ctx.ttl / 1000)} s`,
    }),
  });
}
