// JSON-RPC 2.0 as the SIMULATED Solana RPC (LiteSVM behind it, not a validator) speaks it: one
// request or a batch in, responses out with the error codes a node uses, notifications answered
// with nothing, and u64 values written as exact JSON numbers.
import { DropConnection, invalidParams, RpcError } from "./rpc-errors.js";
import type { RpcMethod } from "./rpc-params.js";

/** JSON with u64 values (bigint) written as exact JSON numbers, as a node writes them. */
function toJson(v: unknown): string {
  if (v === null || v === undefined) return "null";
  if (typeof v === "bigint") return v.toString();
  if (typeof v === "number") return Number.isFinite(v) ? String(v) : "null";
  if (typeof v === "string" || typeof v === "boolean") return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(toJson).join(",")}]`;
  const parts: string[] = [];
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) if (x !== undefined) parts.push(`${JSON.stringify(k)}:${toJson(x)}`);
  return `{${parts.join(",")}}`;
}

/** Answers request bodies from `methods`, counting in `calls` how often each method was called. */
export function jsonRpcResponder(methods: Record<string, RpcMethod>, calls: Map<string, number>) {
  /** One JSON-RPC request object → its response object (null for a notification). */
  async function answer(req: unknown): Promise<Record<string, unknown> | null> {
    const r = req as { jsonrpc?: unknown; method?: unknown; params?: unknown; id?: unknown } | null;
    const validId = (x: unknown) => x === null || typeof x === "string" || (typeof x === "number" && Number.isFinite(x));
    const id = r && typeof r === "object" && validId(r.id) ? r.id : null;
    const error = (e: RpcError) => ({ jsonrpc: "2.0", error: { code: e.code, message: e.message, data: e.data }, id });
    if (
      !r ||
      typeof r !== "object" ||
      Array.isArray(r) ||
      r.jsonrpc !== "2.0" ||
      typeof r.method !== "string" ||
      (r.id !== undefined && !validId(r.id))
    ) {
      return error(new RpcError(-32600, "Invalid request"));
    }
    const method = Object.hasOwn(methods, r.method) ? methods[r.method] : undefined;
    if (method) calls.set(r.method, (calls.get(r.method) ?? 0) + 1);
    try {
      if (!method) throw new RpcError(-32601, "Method not found");
      if (r.params !== undefined && r.params !== null && !Array.isArray(r.params))
        throw invalidParams("invalid type: map, expected a sequence");
      const result = await method((r.params as unknown[] | undefined) ?? []);
      return r.id === undefined ? null : { jsonrpc: "2.0", result, id };
    } catch (e) {
      if (e instanceof DropConnection) throw e;
      if (r.id === undefined) return null;
      return error(e instanceof RpcError ? e : new RpcError(-32603, "Internal error"));
    }
  }

  /** A request body (one request or a batch) → the response text, "" when there is none; DropConnection passes through. */
  return async function respond(body: string): Promise<string> {
    let payload: unknown;
    let out: unknown;
    try {
      payload = JSON.parse(body);
    } catch {
      out = { jsonrpc: "2.0", error: { code: -32700, message: "Parse error" }, id: null };
    }
    if (out === undefined && Array.isArray(payload)) {
      if (payload.length === 0) out = { jsonrpc: "2.0", error: { code: -32600, message: "Invalid request" }, id: null };
      else {
        const answers = [];
        for (const item of payload) answers.push(await answer(item));
        out = answers.filter((a) => a !== null);
      }
    } else if (out === undefined) out = await answer(payload);
    return out === null || (Array.isArray(out) && out.length === 0) ? "" : toJson(out);
  };
}
