// The call the relayer sends for an EIP-3009 settlement, built from its ledger row: the token's
// transferWithAuthorization, after the payer wallet's deployment when it does not exist yet
// (ERC-6492).
import type { Hex } from "viem";
import type { SettlementRow } from "../../../../db/settlements-repo.js";
import { afterDeployment } from "../../../../evm/multicall.js";
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

export const settlementCall = (row: SettlementRow, sig: ClassifiedSignature): Call =>
  afterDeployment({ to: row.asset as Hex, data: transferCalldata(authOf(row), sig.inner) }, sig.deployment);
