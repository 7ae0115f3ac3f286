// The rate limit's window: `burst` requests per window, the window as long as perSecond needs, so
// a fractional rate is not rounded up to one request a second.
import { expect, it } from "vitest";
import { windowMax, windowMs } from "../../src/policy/rate-limit.js";

it("keeps the average at perSecond, bursts included, fractional rates too", () => {
  expect([windowMax({ perSecond: 5 }), windowMs({ perSecond: 5 })]).toEqual([5, 1000]);
  expect([windowMax({ perSecond: 20, burst: 40 }), windowMs({ perSecond: 20, burst: 40 })]).toEqual([40, 2000]);
  expect([windowMax({ perSecond: 0.5 }), windowMs({ perSecond: 0.5 })]).toEqual([1, 2000]);
  expect([windowMax({ perSecond: 0.2, burst: 3 }), windowMs({ perSecond: 0.2, burst: 3 })]).toEqual([3, 15000]);
});
