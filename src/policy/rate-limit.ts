// Rate limits per API key (per client address when the api is open), counted in Redis so every
// api process shares them: a fixed one-second window of `burst` requests (default: perSecond),
// from the key's policy or RATE_LIMIT_PER_SECOND / RATE_LIMIT_BURST. Over it: 429 with JSON and
// Retry-After. Health, readiness and metrics are never limited. Without Redis the limit is not
// enforced rather than refusing every request.
import rateLimit from "@fastify/rate-limit";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Redis } from "ioredis";
import type { KeyRing } from "../http/auth.js";

export interface RateLimitDeps {
  redis: Redis;
  prefix: string;
  keys?: KeyRing;
  defaults?: { perSecond: number; burst?: number };
}

const EXEMPT = /\/(health|healthz|readyz|metrics)$/;

const windowMax = (l: { perSecond: number; burst?: number }) => Math.max(1, Math.ceil(l.burst ?? l.perSecond));

export async function registerRateLimit(app: FastifyInstance, deps: RateLimitDeps): Promise<void> {
  const limitOf = (req: FastifyRequest) => deps.keys?.match(req.headers.authorization)?.rateLimit ?? deps.defaults;
  await app.register(rateLimit, {
    global: true,
    redis: deps.redis,
    nameSpace: `${deps.prefix}:rate-limit:`,
    skipOnError: true,
    timeWindow: 1000,
    allowList: (req) => EXEMPT.test(req.url.split("?")[0]!) || !limitOf(req),
    keyGenerator: (req) => {
      const policy = deps.keys?.match(req.headers.authorization);
      return policy ? `key:${policy.id}` : `ip:${req.ip}`;
    },
    max: (req) => {
      const limit = limitOf(req);
      return limit ? windowMax(limit) : Number.MAX_SAFE_INTEGER;
    },
    errorResponseBuilder: (_req, ctx) => ({
      statusCode: 429,
      error: "rate_limited",
      message: `more than ${ctx.max} requests per second; retry in ${Math.ceil(ctx.ttl / 1000)} s`,
    }),
  });
}
