// One transaction for several settlements: each row's own call rides in Multicall3 `aggregate3`
// and may fail alone, so one bad authorization never sinks the others; each settlement then
// reads its own outcome from the receipt's logs.
import type { SettlementRow } from "../db/settlements-repo.js";
import { aggregate3Calldata, MULTICALL3 } from "../evm/multicall.js";
import { classifySignature } from "../evm/signature.js";
import type { Call, MethodRegistry } from "../schemes/scheme.js";

export function batchCall(methods: MethodRegistry, rows: SettlementRow[]): Call {
  const calls = rows.map((r) => {
    const call = methods.evmForRow(r).settlement.call(r, { inner: classifySignature(r.signature as `0x${string}`).inner });
    return { target: call.to, allowFailure: true, callData: call.data };
  });
  return { to: MULTICALL3, data: aggregate3Calldata(calls) };
}

/** A lone settlement sends its own call; several share a batch. */
export const callFor = (methods: MethodRegistry, rows: SettlementRow[], lone: Call) =>
  rows.length === 1 ? lone : batchCall(methods, rows);
