// A v1 or v2 Solana request reduced to the fields the checks read, and the transaction decoded
// once. Nothing here judges validity.
import type { NetworkLookup } from "../../../config/config.js";
import type { EnabledSvmNetwork } from "../../../config/solana-networks.js";
import type { PaymentKey } from "../../../db/schema.js";
import { decodeWireTransaction, messageHash, type WireTransaction } from "../../../svm/wire-transaction.js";
import type { FacilitatorRequest } from "../../../x402/wire.js";
import { TOKEN_2022_PROGRAM, TOKEN_PROGRAM } from "./layout.js";

export interface SvmIntent {
  requestNetwork: string;
  payloadScheme: string;
  requirementsScheme: string;
  payloadNetwork: string;
  network?: EnabledSvmNetwork;
  asset: string;
  payTo: string;
  amount: bigint;
  feePayer?: string;
  memo?: string;
  /** The base64 transaction as sent. */
  wire: string;
  /** Undefined when the payload does not decode to one transaction. */
  decoded?: WireTransaction;
  /** The token authority of the first token instruction: who pays ("" when none). */
  payer: string;
}

const TOKEN_PROGRAMS = new Set([TOKEN_PROGRAM, TOKEN_2022_PROGRAM]);

/** The authority of the first token-program instruction with the four TransferChecked accounts. */
function tokenPayer(decoded: WireTransaction | undefined): string {
  if (!decoded) return "";
  const accounts = decoded.message.staticAccounts;
  for (const ix of decoded.message.instructions) {
    const program = accounts[ix.programAddressIndex];
    const authority = ix.accountIndices?.[3];
    if (program && TOKEN_PROGRAMS.has(program) && authority !== undefined) return accounts[authority] ?? "";
  }
  return "";
}

export function toSvmIntent(req: FacilitatorRequest, networks: NetworkLookup): SvmIntent {
  const r = req.paymentRequirements;
  const wire = String((req.paymentPayload.payload as { transaction?: unknown }).transaction ?? "");
  const decoded = decodeWireTransaction(wire);
  const extra = (r.extra ?? {}) as { feePayer?: unknown; memo?: unknown };
  const common = {
    requestNetwork: r.network,
    requirementsScheme: r.scheme,
    network: networks.svm?.(r.network),
    asset: r.asset,
    payTo: r.payTo,
    feePayer: typeof extra.feePayer === "string" ? extra.feePayer : undefined,
    memo: typeof extra.memo === "string" ? extra.memo : undefined,
    wire,
    decoded,
    payer: tokenPayer(decoded),
  };
  if (req.version === 1)
    return {
      ...common,
      payloadScheme: req.paymentPayload.scheme,
      payloadNetwork: req.paymentPayload.network,
      amount: BigInt(req.paymentRequirements.maxAmountRequired),
    };
  return {
    ...common,
    payloadScheme: req.paymentPayload.accepted.scheme,
    payloadNetwork: req.paymentPayload.accepted.network,
    amount: BigInt(req.paymentRequirements.amount),
  };
}

/** One row per transaction message: the same payment re-sent, signed or not, is the same key. */
export const svmPaymentKey = (network: EnabledSvmNetwork, decoded: WireTransaction): PaymentKey => ({
  chainId: network.ledgerChainId,
  key: `svm:${messageHash(decoded.transaction)}`,
});
