// The cluster methods of the SIMULATED Solana RPC (LiteSVM behind it, not a validator): health,
// version and identity, slots and block heights, blockhashes, and fees.
import { randomBytes } from "node:crypto";
import { getAddressDecoder, getCompiledTransactionMessageDecoder, isAddress } from "@solana/kit";
import { invalidParams, RpcError } from "./rpc-errors.js";
import { stringAt, wireBytes, type MethodContext, type RpcMethod } from "./rpc-params.js";
import { feeOf } from "./transaction-wire.js";

export function clusterMethods({ cluster, apiVersion, context, readConfig }: MethodContext): Record<string, RpcMethod> {
  const identity = getAddressDecoder().decode(randomBytes(32));
  return {
    getHealth: () => "ok",
    getVersion: () => ({ "solana-core": `${apiVersion}-litesvm-simulated`, "feature-set": 0 }),
    getGenesisHash: () => cluster.genesisHash,
    getIdentity: () => ({ identity }),
    getSlot: (p) => cluster.slotAt(readConfig(p, 0).commitment),
    getBlockHeight: (p) => cluster.blockHeightAt(readConfig(p, 0).commitment),
    getEpochInfo: (p) => {
      const { commitment } = readConfig(p, 0);
      const slot = cluster.slotAt(commitment);
      const slotsInEpoch = 432_000n;
      return {
        absoluteSlot: slot,
        blockHeight: cluster.blockHeightAt(commitment),
        epoch: slot / slotsInEpoch,
        slotIndex: slot % slotsInEpoch,
        slotsInEpoch,
        transactionCount: null,
      };
    },
    getLatestBlockhash: (p) => {
      const { commitment } = readConfig(p, 0);
      const latest = cluster.latestBlockhash(commitment);
      return { context: context(commitment), value: { blockhash: latest.blockhash, lastValidBlockHeight: latest.lastValidBlockHeight } };
    },
    isBlockhashValid: (p) => {
      const blockhash = stringAt(p, 0);
      const { commitment } = readConfig(p, 1);
      return { context: context(commitment), value: cluster.isBlockhashValid(blockhash, commitment) };
    },
    getFeeForMessage: (p) => {
      const encoded = stringAt(p, 0);
      const { commitment } = readConfig(p, 1);
      let message;
      try {
        message = getCompiledTransactionMessageDecoder().decode(wireBytes(encoded, "base64"));
      } catch (e) {
        if (e instanceof RpcError) throw e;
        throw invalidParams(`invalid message: ${(e as Error).message}`);
      }
      if (message.version !== "legacy" && message.version !== 0) throw invalidParams("unsupported message version");
      const value = cluster.isBlockhashValid(message.lifetimeToken, commitment) ? feeOf(message) : null;
      return { context: context(commitment), value };
    },
    getRecentPrioritizationFees: (p) => {
      if (p[0] !== undefined && (!Array.isArray(p[0]) || p[0].some((a) => typeof a !== "string" || !isAddress(a))))
        throw invalidParams("expected an array of addresses");
      // Nothing competes for block space here; the recent slots report no priority fee.
      const now = cluster.slot;
      return Array.from({ length: 150 }, (_, i) => ({ slot: now - 149n + BigInt(i), prioritizationFee: 0 }));
    },
  };
}
