// Request parameters of the SIMULATED Solana RPC (LiteSVM behind it, not a validator), read and
// refused as a node does: positional arguments, the trailing config object (commitment,
// minContextSlot, encodings, dataSlice) and transactions given as base58 or base64.
import { isAddress, type Address } from "@solana/kit";
import { fromBase58 } from "../../svm/wire-transaction.js";
import type { Commitment } from "./cluster-types.js";
import type { LocalCluster } from "./local-cluster.js";
import { invalidParam, invalidParams, RpcError } from "./rpc-errors.js";
import { parseWireTransaction, TransactionDecodeError } from "./transaction-wire.js";

const API_VERSION = "2.3.0";

/** One JSON-RPC method: positional params in, result out (bigints are written as exact JSON numbers). */
export type RpcMethod = (params: unknown[]) => unknown;

export type Config = Record<string, unknown>;

export function configAt(params: unknown[], i: number): Config {
  const c = params[i];
  if (c === undefined || c === null) return {};
  if (typeof c !== "object" || Array.isArray(c)) throw invalidParams("invalid type: expected a config object");
  return c as Config;
}

export function addressAt(params: unknown[], i: number): Address {
  const a = params[i];
  if (typeof a !== "string" || !isAddress(a)) throw invalidParam("Invalid");
  return a;
}

export function stringAt(params: unknown[], i: number): string {
  const s = params[i];
  if (typeof s !== "string") throw invalidParams(`expected a string at position ${i}`);
  return s;
}

export function optionalBool(c: Config, key: string): boolean {
  const v = c[key];
  if (v === undefined || v === null) return false;
  if (typeof v !== "boolean") throw invalidParams(`${key} must be a boolean`);
  return v;
}

export function optionalU64(c: Config, key: string): bigint | null {
  const v = c[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) throw invalidParams(`${key} must be a u64`);
  return BigInt(v);
}

export function commitmentOf(c: Config): Commitment {
  const v = c.commitment ?? c.preflightCommitment;
  if (v === undefined || v === null) return "finalized";
  if (v === "processed" || v === "confirmed" || v === "finalized") return v;
  throw invalidParams(`unknown variant \`${String(v)}\`, expected one of \`processed\`, \`confirmed\`, \`finalized\``);
}

export type AccountEncoding = "binary" | "base58" | "base64" | "jsonParsed";

export function encodingOf(c: Config, fallback: AccountEncoding): AccountEncoding {
  const e = c.encoding ?? fallback;
  if (e === "binary" || e === "base58" || e === "base64" || e === "jsonParsed") return e;
  throw invalidParams(`unsupported encoding: ${String(e)}`);
}

export function sliceOf(c: Config): ((d: Uint8Array) => Uint8Array) | null {
  const s = c.dataSlice;
  if (s === undefined || s === null) return null;
  const { offset, length } = s as { offset?: unknown; length?: unknown };
  if (typeof offset !== "number" || typeof length !== "number" || offset < 0 || length < 0)
    throw invalidParams("dataSlice needs offset and length");
  return (d) => d.subarray(offset, offset + length);
}

/** Decodes a wire transaction given as base58 (the spec's default) or base64. */
export function wireBytes(encoded: string, encoding: unknown): Uint8Array {
  if (encoding === undefined || encoding === null || encoding === "base58") {
    try {
      return fromBase58(encoded);
    } catch {
      throw invalidParams("invalid base58 encoding");
    }
  }
  if (encoding === "base64") {
    if (encoded.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(encoded)) throw invalidParams("invalid base64 encoding");
    return new Uint8Array(Buffer.from(encoded, "base64"));
  }
  throw invalidParams(`unsupported encoding: ${String(encoding)}. Supported encodings: base58, base64`);
}

export function parseTransactionParam(encoded: string, encoding: unknown) {
  try {
    return parseWireTransaction(wireBytes(encoded, encoding));
  } catch (e) {
    if (e instanceof TransactionDecodeError) throw invalidParams(e.message);
    throw e;
  }
}

/** What every method reads alike: the cluster, the RPC context of a commitment and the trailing config. */
export function methodContext(cluster: LocalCluster) {
  const context = (commitment: Commitment = "processed") => ({ slot: cluster.slotAt(commitment), apiVersion: API_VERSION });

  function checkMinContextSlot(c: Config, commitment: Commitment) {
    const min = optionalU64(c, "minContextSlot");
    if (min !== null && cluster.slotAt(commitment) < min) {
      throw new RpcError(-32016, "Minimum context slot has not been reached", { contextSlot: cluster.slotAt(commitment) });
    }
  }

  /** Reads the usual trailing config: commitment (default finalized, as a node) and minContextSlot. */
  function readConfig(params: unknown[], i: number): { c: Config; commitment: Commitment } {
    const c = configAt(params, i);
    const commitment = commitmentOf(c);
    checkMinContextSlot(c, commitment);
    return { c, commitment };
  }

  return { cluster, apiVersion: API_VERSION, context, readConfig };
}

export type MethodContext = ReturnType<typeof methodContext>;
