// The calls the relayer sends for settlements, built from ledger rows: one transfer, a
// deploy-then-transfer for a counterfactual wallet, or a Multicall3 batch of several transfers.
import { encodeFunctionData, type Hex } from "viem";
import type { SettlementRow } from "../db/settlements-repo.js";
import { aggregate3Calldata, MULTICALL3, tryAggregateAbi } from "../evm/multicall.js";
import { transferCalldata } from "../evm/payment-reads.js";
import { classifySignature, type ClassifiedSignature } from "../evm/signature.js";

export const authOf = (row: SettlementRow) => ({
  from: row.payer as Hex,
  to: row.payTo as Hex,
  value: row.value,
  validAfter: row.validAfter,
  validBefore: row.validBefore,
  nonce: row.nonce as Hex,
});

/** The call the relayer makes: the transfer, or deploy-then-transfer for a counterfactual wallet. */
export function settlementCall(row: SettlementRow, sig: ClassifiedSignature): { to: Hex; data: Hex } {
  const transfer = transferCalldata(authOf(row), sig.inner);
  if (!sig.deployment) return { to: row.asset as Hex, data: transfer };
  const calls = [
    { target: sig.deployment.factory, callData: sig.deployment.calldata },
    { target: row.asset as Hex, callData: transfer },
  ];
  return { to: MULTICALL3, data: encodeFunctionData({ abi: tryAggregateAbi, functionName: "tryAggregate", args: [true, calls] }) };
}

/**
 * One transaction for several settlements: each transfer is its own Multicall3 call that may
 * fail alone, so one bad authorization never sinks the others; each settlement then reads its
 * own outcome from the receipt's logs.
 */
export function batchCall(rows: SettlementRow[]): { to: Hex; data: Hex } {
  const calls = rows.map((r) => ({
    target: r.asset as Hex,
    allowFailure: true,
    callData: transferCalldata(authOf(r), classifySignature(r.signature as Hex).inner),
  }));
  return { to: MULTICALL3, data: aggregate3Calldata(calls) };
}

export const callFor = (rows: SettlementRow[], lone: { to: Hex; data: Hex }) => (rows.length === 1 ? lone : batchCall(rows));
