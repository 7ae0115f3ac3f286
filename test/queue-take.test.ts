// The BullMQ way into a worker takes the settlement first (src/worker/wakeups.ts, one Lua
// script), against a real Redis: a free take is this worker's; a take held by another worker
// that is alive leaves the settlement to it; a take left by a worker whose alive key is gone
// passes to this one.
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import pino from "pino";
import { afterAll, expect, inject, it } from "vitest";
import { createSettlementRuns } from "../src/worker/wakeups.js";

const redis = new Redis(inject("redisUrl"));
const prefix = `${inject("redisPrefix")}:take-${randomBytes(3).toString("hex")}`;
afterAll(async () => redis.quit());

function runsOf(owner: string, advanced: string[]) {
  return createSettlementRuns({
    advance: async (id) => {
      advanced.push(id);
      return "confirmed";
    },
    sql: undefined as never, // not listening: only the BullMQ way is exercised here
    redis,
    prefix,
    owner,
    maxInFlight: 4,
    logger: pino({ level: "silent" }),
  });
}

it("takes a free settlement, leaves one a live worker holds, and takes over one a gone worker left", async () => {
  const advanced: string[] = [];
  const runs = runsOf("me", advanced);

  expect(await runs.fromQueue("free")).toBe("confirmed");
  expect(await redis.get(`${prefix}:take:free`)).toBe("me");

  await redis.set(`${prefix}:alive:other`, "1", "PX", 10_000);
  await redis.set(`${prefix}:take:held`, "other", "PX", 30_000);
  expect(await runs.fromQueue("held")).toBeUndefined();
  expect(await redis.get(`${prefix}:take:held`)).toBe("other");

  await redis.set(`${prefix}:take:orphan`, "gone", "PX", 30_000);
  expect(await runs.fromQueue("orphan")).toBe("confirmed");
  expect(await redis.get(`${prefix}:take:orphan`)).toBe("me");
  expect(await redis.pttl(`${prefix}:take:orphan`)).toBeGreaterThan(20_000);

  // Already ours (a run that ended): taken again, as the row may have more to do.
  expect(await runs.fromQueue("free")).toBe("confirmed");
  expect(advanced).toEqual(["free", "orphan", "free"]);
});
