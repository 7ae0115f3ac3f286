// The failure budget per payer: each verify the payer's own payment fails, and each settle that
// fails, counts against it for the minute; past PAYER_FAILURE_BUDGET its requests are refused
// before any RPC until the minute is over. Kept in Redis so every api process sees one count.
// A failed signature does not count: whoever forged it is not the payer it names, and charging
// that payer would let anyone lock them out.
import type { Redis } from "ioredis";

export const BUDGET_REASON = "payer_failure_budget_exceeded";

export interface FailureBudget {
  /** Seconds until the payer may try again, or undefined when it may now. */
  exhausted(payer: string): Promise<number | undefined>;
  charge(payer: string, reason: string | undefined): void;
}

export function createFailureBudget(redis: Redis, o: { budget: number; prefix: string; nowMs?: () => number }): FailureBudget {
  const now = o.nowMs ?? Date.now;
  const keyOf = (payer: string, minute: number) => `${o.prefix}:payer-failures:${payer.toLowerCase()}:${minute}`;
  // Without Redis the budget is not enforced rather than blocking every payer: it limits waste, not money.
  const up = () => redis.status === "ready";
  return {
    async exhausted(payer) {
      if (!up()) return undefined;
      const minute = Math.floor(now() / 60_000);
      const count = Number((await redis.get(keyOf(payer, minute)).catch(() => null)) ?? 0);
      return count >= o.budget ? Math.max(1, Math.ceil(((minute + 1) * 60_000 - now()) / 1000)) : undefined;
    },
    charge(payer, reason) {
      if (!up() || !reason || reason.includes("signature")) return;
      const key = keyOf(payer, Math.floor(now() / 60_000));
      redis
        .multi()
        .incr(key)
        .pexpire(key, 120_000)
        .exec()
        .catch(() => undefined);
    },
  };
}
