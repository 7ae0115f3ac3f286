// The native sponge, driven directly and reused, hashes exactly as viem's reference keccak does,
// across the rate boundary (136 bytes) and on consecutive calls.
import { randomBytes } from "node:crypto";
import { keccak256 as viemKeccak256 } from "viem";
import { describe, expect, it } from "vitest";
import { keccak256 } from "../../src/evm/keccak.js";

describe("keccak256", () => {
  it.each([0, 1, 31, 32, 64, 135, 136, 137, 271, 272, 1000])("matches viem for %i bytes", (n) => {
    const data = randomBytes(n);
    expect(`0x${keccak256(data).toString("hex")}`).toBe(viemKeccak256(data));
    // the state is reset after each digest: the same input hashes the same again
    expect(`0x${keccak256(data).toString("hex")}`).toBe(viemKeccak256(data));
  });

  it("hashes a Uint8Array view at an offset", () => {
    const backing = randomBytes(100);
    const view = new Uint8Array(backing.buffer, backing.byteOffset + 7, 50);
    expect(`0x${keccak256(view).toString("hex")}`).toBe(viemKeccak256(view));
  });
});
