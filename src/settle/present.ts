// A settlement as operators see it: the operator API's resource, and the `data` of every webhook
// event. Signatures are never included: until validBefore they are spendable.
import type { z } from "zod";
import type { SettlementRow } from "../db/settlements-repo.js";
import type { settlementSchema } from "../http/openapi/resources.js";
import { caip2OfChainId } from "../config/solana-networks.js";

/** Typed by the schema the OpenAPI document shows, so the two cannot drift apart. */
export function presentSettlement(row: SettlementRow): z.infer<typeof settlementSchema> {
  return {
    id: row.id,
    network: caip2OfChainId(row.chainId),
    requestNetwork: row.requestNetwork,
    x402Version: row.x402Version,
    scheme: row.scheme,
    method: row.method,
    asset: row.asset,
    payer: row.payer,
    payTo: row.payTo,
    apiKeyId: row.apiKeyId,
    value: row.value,
    /** What the payment moves: the authorized value unless the method charged less. */
    chargedAmount: row.chargedAmount ?? row.value,
    nonce: row.nonce,
    validAfter: row.validAfter,
    validBefore: row.validBefore,
    state: row.state,
    version: row.version,
    transaction: row.settledTx,
    latestTransaction: row.latestTx,
    settledBy: row.settledBy,
    blockNumber: row.blockNumber?.toString() ?? null,
    blockHash: row.blockHash,
    relayer: row.relayerAddress,
    relayerNonce: row.relayerNonce?.toString() ?? null,
    successAnsweredAt: row.successAnsweredAt?.toISOString() ?? null,
    errorReason: row.errorReason,
    errorMessage: row.errorMessage,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

export type SettlementResource = z.infer<typeof settlementSchema>;
