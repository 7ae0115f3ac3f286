// Keccak-256 for the verify hot path: the `keccak` package's native sponge where its prebuilt
// addon loads, viem's pure-JS one otherwise. The sponge is driven directly, one state reused:
// the package's own wrapper builds a stream object per hash, which cost more than the hashing.
import { createRequire } from "node:module";
import path from "node:path";
import { keccak256 as jsKeccak256 } from "viem";

interface KeccakState {
  initialize(rate: number, capacity: number): void;
  absorb(data: Buffer): void;
  squeeze(length: number): Buffer;
}

// Keccak-256: rate 1088 bits, capacity 512; the addon pads with Keccak's 0x01 on squeeze.
const RATE = 1088;
const CAPACITY = 512;

/** Where the `keccak` package keeps its addon, and the loader it uses (node-gyp-build). */
export function keccakAddon(): { nodeGypBuild: string; keccakDir: string } {
  const pkg = createRequire(import.meta.url).resolve("keccak/package.json");
  return { nodeGypBuild: createRequire(pkg).resolve("node-gyp-build"), keccakDir: path.dirname(pkg) };
}

function loadNative(): KeccakState | undefined {
  try {
    const { nodeGypBuild, keccakDir } = keccakAddon();
    const State = (createRequire(import.meta.url)(nodeGypBuild) as (dir: string) => new () => KeccakState)(keccakDir);
    if (typeof State !== "function") return undefined;
    const state = new State();
    state.initialize(RATE, CAPACITY);
    return state;
  } catch {
    return undefined;
  }
}

const native = loadNative();

const asBuffer = (data: Uint8Array) => (Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength));

function nativeKeccak256(state: KeccakState, data: Uint8Array): Buffer {
  state.absorb(asBuffer(data));
  const out = state.squeeze(32);
  state.initialize(RATE, CAPACITY);
  return out;
}

export const keccak256 = (data: Uint8Array): Buffer => (native ? nativeKeccak256(native, data) : Buffer.from(jsKeccak256(data, "bytes")));

export const keccakImplementation = native ? "native" : "js";
