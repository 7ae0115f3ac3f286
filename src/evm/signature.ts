// Local signature handling for EIP-3009 payloads: ERC-6492 unwrapping, the (v, r, s) rules
// FiatToken enforces on chain, and address recovery through libsecp256k1 (native prebuild;
// the package falls back to pure JS where the prebuild cannot load).
import { createRequire } from "node:module";
import { parseErc6492Signature, zeroAddress, type Address, type Hex } from "viem";
import { keccak256 } from "./keccak.js";

interface Secp256k1 {
  ecdsaRecover(sig: Uint8Array, recid: number, msg32: Uint8Array, compressed?: boolean): Uint8Array;
}
const secp256k1 = createRequire(import.meta.url)("secp256k1") as Secp256k1;

// secp256k1 group order n, and n/2: FiatToken's ECRecover rejects s above it.
const HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;

export interface ClassifiedSignature {
  /** The signature the token will check (ERC-6492 wrapper removed). */
  inner: Hex;
  /** Present when the signature carries an ERC-6492 deployment for a non-zero factory. */
  deployment?: { factory: Address; calldata: Hex };
}

export function classifySignature(signature: Hex): ClassifiedSignature {
  if (!signature.toLowerCase().endsWith("6492649264926492649264926492649264926492649264926492649264926492")) {
    return { inner: signature };
  }
  try {
    const parsed = parseErc6492Signature(signature);
    if (parsed.address && parsed.data && parsed.address.toLowerCase() !== zeroAddress) {
      return { inner: parsed.signature, deployment: { factory: parsed.address, calldata: parsed.data } };
    }
    return { inner: parsed.signature };
  } catch {
    return { inner: signature };
  }
}

export interface EcdsaParts {
  r: Hex;
  s: Hex;
  v: 27 | 28;
}

/** Splits a 65-byte signature, or returns undefined when it is not one FiatToken's ECRecover accepts. */
export function parseEcdsa(signature: Hex): EcdsaParts | undefined {
  if (signature.length !== 132) return undefined;
  const v = parseInt(signature.slice(130, 132), 16);
  if (v !== 27 && v !== 28) return undefined;
  const s = BigInt(`0x${signature.slice(66, 130)}`);
  if (s === 0n || s > HALF_N) return undefined;
  return { r: `0x${signature.slice(2, 66)}`, s: `0x${signature.slice(66, 130)}`, v };
}

/** The address that produced `sig` over `digest`, or undefined for an unrecoverable signature. */
export function recoverSigner(digest: Uint8Array, sig: EcdsaParts): Address | undefined {
  try {
    const compact = Buffer.from(sig.r.slice(2) + sig.s.slice(2), "hex");
    const pub = secp256k1.ecdsaRecover(compact, sig.v - 27, digest, false);
    return `0x${keccak256(pub.subarray(1)).subarray(12).toString("hex")}` as Address;
  } catch {
    return undefined;
  }
}
