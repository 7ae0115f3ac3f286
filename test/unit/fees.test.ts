import { describe, expect, it } from "vitest";
import { bump, initialFees, replacementFees } from "../../src/worker/fees.js";

const gwei = (n: number) => BigInt(Math.round(n * 1e9));

describe("fees", () => {
  it("bump raises by at least 12.5% and moves zero", () => {
    expect(bump(1000n)).toBe(1125n);
    expect(bump(1001n)).toBe(1127n);
    expect(bump(0n)).toBe(1n);
    for (const x of [1n, 7n, 999n, gwei(1.3)]) expect(bump(x) * 1000n).toBeGreaterThanOrEqual(x * 1125n);
  });

  it("the first offer is the market's, held under the ceiling", () => {
    expect(initialFees({ maxFeePerGas: gwei(50), maxPriorityFeePerGas: gwei(60) }, gwei(40))).toEqual({
      maxFeePerGas: gwei(40),
      maxPriorityFeePerGas: gwei(40),
    });
    expect(initialFees({ maxFeePerGas: gwei(2), maxPriorityFeePerGas: gwei(1) }, gwei(40))).toEqual({
      maxFeePerGas: gwei(2),
      maxPriorityFeePerGas: gwei(1),
    });
  });

  it("a replacement bumps both fields, follows a higher market, and never passes the ceiling", () => {
    const prev = { maxFeePerGas: gwei(10), maxPriorityFeePerGas: gwei(1) };
    expect(replacementFees(prev, { maxFeePerGas: gwei(5), maxPriorityFeePerGas: gwei(0.5) }, gwei(100))).toEqual({
      maxFeePerGas: gwei(11.25),
      maxPriorityFeePerGas: gwei(1.125),
    });
    expect(replacementFees(prev, { maxFeePerGas: gwei(30), maxPriorityFeePerGas: gwei(2) }, gwei(100))).toEqual({
      maxFeePerGas: gwei(30),
      maxPriorityFeePerGas: gwei(2),
    });
    expect(replacementFees(prev, { maxFeePerGas: gwei(300), maxPriorityFeePerGas: gwei(2) }, gwei(100))).toEqual({
      maxFeePerGas: gwei(100),
      maxPriorityFeePerGas: gwei(2),
    });
    // No valid bump fits under the ceiling: no replacement at all.
    expect(replacementFees(prev, { maxFeePerGas: gwei(30), maxPriorityFeePerGas: gwei(2) }, gwei(11))).toBeUndefined();
  });
});
