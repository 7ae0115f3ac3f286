// Keccak-256 for the verify hot path: the native implementation (the `keccak` package's
// prebuilt addon, about 4 µs for a struct hash) where it loads, viem's pure-JS one otherwise
// (about 19 µs). Three hashes per verify make the difference visible at full load.
import { createRequire } from "node:module";
import { keccak256 as jsKeccak256 } from "viem";

type NativeKeccak = (alg: "keccak256") => { update(data: Buffer): { digest(): Buffer } };

function loadNative(): NativeKeccak | undefined {
  try {
    const native = createRequire(import.meta.url)("keccak/bindings") as NativeKeccak;
    native("keccak256").update(Buffer.alloc(1)).digest();
    return native;
  } catch {
    return undefined;
  }
}

const native = loadNative();

const asBuffer = (data: Uint8Array) => (Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength));

export const keccak256 = (data: Uint8Array): Buffer =>
  native ? native("keccak256").update(asBuffer(data)).digest() : Buffer.from(jsKeccak256(data, "bytes"));

export const keccakImplementation = native ? "native" : "js";
