// The call the relayer sends for an EIP-3009 settlement, built from its ledger row: the token's
// transferWithAuthorization, or deploy-then-transfer through Multicall3 for a wallet that does
// not exist yet (ERC-6492).
import { encodeFunctionData, type Hex } from "viem";
import type { SettlementRow } from "../../../../db/settlements-repo.js";
import { MULTICALL3, tryAggregateAbi } from "../../../../evm/multicall.js";
import { transferCalldata } from "../../../../evm/payment-reads.js";
import type { ClassifiedSignature } from "../../../../evm/signature.js";
import type { Call } from "../../../scheme.js";

export const authOf = (row: SettlementRow) => ({
  from: row.payer as Hex,
  to: row.payTo as Hex,
  value: row.value,
  validAfter: row.validAfter,
  validBefore: row.validBefore,
  nonce: row.nonce as Hex,
});

export function settlementCall(row: SettlementRow, sig: ClassifiedSignature): Call {
  const transfer = transferCalldata(authOf(row), sig.inner);
  if (!sig.deployment) return { to: row.asset as Hex, data: transfer };
  const calls = [
    { target: sig.deployment.factory, callData: sig.deployment.calldata },
    { target: row.asset as Hex, callData: transfer },
  ];
  return { to: MULTICALL3, data: encodeFunctionData({ abi: tryAggregateAbi, functionName: "tryAggregate", args: [true, calls] }) };
}
