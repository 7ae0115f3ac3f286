// The rate limit's window: `burst` requests per window, the window as long as perSecond needs, so
// a fractional rate is not rounded up to one request a second.
import { expect, it } from "vitest";
import { OverLimit, windowMax, windowMs } from "../../src/policy/rate-limit.js";

it("keeps the average at perSecond, bursts included, fractional rates too", () => {
  expect([windowMax({ perSecond: 5 }), windowMs({ perSecond: 5 })]).toEqual([5, 1000]);
  expect([windowMax({ perSecond: 20, burst: 40 }), windowMs({ perSecond: 20, burst: 40 })]).toEqual([40, 2000]);
  expect([windowMax({ perSecond: 0.5 }), windowMs({ perSecond: 0.5 })]).toEqual([1, 2000]);
  expect([windowMax({ perSecond: 0.2, burst: 3 }), windowMs({ perSecond: 0.2, burst: 3 })]).toEqual([3, 15000]);
});

it("remembers a key over its limit until its window ends, and never more keys than its capacity", async () => {
  const over = new OverLimit(3);
  over.set("key:a", { max: 5, after: "1 second" }, 40);
  expect(over.get("key:a")).toMatchObject({ max: 5, after: "1 second" });
  expect(over.get("key:a")!.leftMs).toBeLessThanOrEqual(40);
  expect(over.get("key:b")).toBeUndefined();
  await new Promise((r) => setTimeout(r, 50));
  expect(over.get("key:a"), "the window has passed").toBeUndefined();
  expect(over.size).toBe(0);

  for (const k of ["ip:1", "ip:2", "ip:3", "ip:4", "ip:5"]) over.set(k, { max: 1, after: "1 second" }, 60_000);
  expect(over.size).toBe(3);
  expect(over.get("ip:1"), "the oldest made room").toBeUndefined();
  expect(over.get("ip:5")).toBeDefined();
  over.set("ip:6", { max: 1, after: "1 second" }, 0);
  expect(over.get("ip:6"), "an expired window is not remembered").toBeUndefined();
});
