// Claimed → signed: re-simulate at the pending block, pick a relayer lane, and allocate the
// nonce, sign and store the raw transaction in one database transaction (write-ahead), possibly
// with other claimed settlements in one Multicall3 batch.
import { keccak256, type Hex, type PublicClient } from "viem";
import type { EnabledNetwork } from "../config/config.js";
import { LOG_LOOKBACK_BLOCKS, markEnded } from "../db/outcomes.js";
import { groupCommitBy } from "../db/group-commit.js";
import type { SettlementRow, SignItem } from "../db/settlements-repo.js";
import { isRevert } from "../evm/payment-reads.js";
import { classifySignature, type ClassifiedSignature } from "../evm/signature.js";
import { VALID_BEFORE_MARGIN_S } from "../schemes/scheme.js";
import { Reason } from "../x402/reasons.js";
import { batchCall, callFor } from "./batch-call.js";
import { createFeeCache, initialFees } from "./fees.js";
import type { SettleContext } from "./settle-context.js";

/** Thrown when this worker holds no usable relayer lane for the chain: the job is retried. */
export class NoRelayerError extends Error {}

export function createSigning(ctx: SettleContext) {
  const { repo, logger, methods, sideOf, fault, effectiveSignature, spentOr } = ctx;
  const deps = ctx;
  const marketFees = createFeeCache();
  type LaneRequest = { relayer: { chainId: number; address: string; owner: string }; item: SignItem };
  // Settlements ready to sign on the same lane share its lock and one commit (group commit).
  const signOnLane = groupCommitBy(
    (r: LaneRequest) => `${r.relayer.chainId}:${r.relayer.address.toLowerCase()}`,
    (_lane, requests: LaneRequest[]) =>
      repo.allocateSignAndStoreMany(
        requests.map((r) => r.item),
        requests[0]!.relayer,
      ),
  );

  /** Why the chain refuses the transfer right now, as a terminal outcome for the row. */
  async function refusal(row: SettlementRow, client: PublicClient, signature: ClassifiedSignature, searchFromBlock: bigint) {
    const why = await sideOf(row).refusal(client, row, signature);
    if (why === "spent") return sideOf(row).explainSpent({ repo, logger }, client, row, searchFromBlock);
    // Fine again a moment later: the state moved under us; the next attempt looks again.
    if (!why) return undefined;
    return markEnded({ repo, logger }, row, "failed", why.reason, why.message);
  }

  /** Other claimed settlements that would go through right now, to share this transaction. */
  async function batchCompanions(row: SettlementRow, client: PublicClient, headTime: bigint): Promise<SettlementRow[]> {
    const batchMax = deps.batchMax ?? 1;
    if (batchMax <= 1) return [];
    const candidates = (await repo.batchCandidates(row.chainId, row.id, batchMax - 1)).filter(
      (c) => BigInt(c.validBefore) >= headTime + VALID_BEFORE_MARGIN_S && sideOf(c).batchable(c, classifySignature(c.signature as Hex)),
    );
    const checks = await Promise.all(
      candidates.map((c) => sideOf(c).wouldSucceed(client, c, { inner: classifySignature(c.signature as Hex).inner })),
    );
    return candidates.filter((_, i) => checks[i]);
  }

  async function prepareAndSign(row: SettlementRow, net: EnabledNetwork, client: PublicClient) {
    fault("before_sign");
    logger.debug({ settlementId: row.id }, "preparing");
    const head = await ctx.latestBlock(net.chainId, client);
    const searchFromBlock = row.searchFromBlock ?? (head.number! > LOG_LOOKBACK_BLOCKS ? head.number! - LOG_LOOKBACK_BLOCKS : 0n);
    const signature = await effectiveSignature(row, client);
    // The token compares validBefore with block time, so the chain's clock decides.
    if (BigInt(row.validBefore) < head.timestamp + VALID_BEFORE_MARGIN_S) {
      return spentOr(row, client, searchFromBlock, () =>
        markEnded({ repo, logger }, row, "expired", sideOf(row).expiredReason, "expired before it could be sent"),
      );
    }

    const sender = sideOf(row).sender?.(row);
    const lane = sender ? deps.pool.named(net.chainId, sender) : undefined;
    if (lane && "unavailable" in lane) {
      // Another worker holds the lane: the job comes back until the one holding it takes it.
      if (lane.unavailable === "leased_elsewhere") throw new NoRelayerError(`relayer ${sender} is leased by another worker`);
      const why = lane.unavailable === "unfunded" ? "is below its gas floor" : "is not configured in this worker";
      return markEnded(
        { repo, logger },
        row,
        "failed",
        Reason.namedRelayerUnavailable,
        `the payment names relayer ${sender}, which ${why}; no other key may settle it`,
      );
    }
    const relayer = lane ? lane.account : deps.pool.pick(net.chainId);
    if (!relayer) throw new NoRelayerError(`no leased, funded relayer on chain ${net.chainId} in this worker`);
    const call = sideOf(row).call(row, signature);
    // Estimating the exact call at the pending block is the re-simulation: it reverts exactly
    // when the transfer would (spent, canceled, drained, blacklisted, paused…).
    let gas: bigint;
    try {
      gas = await client.estimateGas({ account: relayer.address, ...call, blockTag: "latest" });
    } catch (err) {
      if (!isRevert(err)) throw err;
      return refusal(row, client, signature, searchFromBlock);
    }
    let members = [row];
    const companions = sideOf(row).batchable(row, signature) ? await batchCompanions(row, client, head.timestamp) : [];
    if (companions.length) {
      try {
        gas = await client.estimateGas({ account: relayer.address, ...batchCall(methods, [row, ...companions]), blockTag: "pending" });
        members = [row, ...companions];
      } catch (err) {
        if (!isRevert(err)) throw err;
        // The batch as a whole would not go through: send this one alone, the others by themselves.
      }
    }
    const fees = initialFees(await marketFees(net.chainId, client), net.maxFeePerGas);
    const signed = await signOnLane({
      relayer: { chainId: net.chainId, address: relayer.address, owner: deps.owner },
      item: {
        members: members.map((m) => ({
          id: m.id,
          from: m.state,
          version: m.version,
          patch: { searchFromBlock: m.searchFromBlock ?? searchFromBlock },
        })),
        sign: async (nonce, ids) => {
          const request = {
            chainId: net.chainId,
            type: "eip1559" as const,
            nonce: Number(nonce),
            ...callFor(
              methods,
              members.filter((m) => ids.includes(m.id)),
              call,
            ),
            // Headroom over the estimate: a 1271 wallet's check may cost more at inclusion time.
            gas: (gas * 5n) / 4n + 10_000n,
            maxFeePerGas: fees.maxFeePerGas,
            maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
          };
          const raw = await relayer.signTransaction(request);
          return {
            hash: keccak256(raw),
            raw,
            gas: request.gas,
            maxFeePerGas: request.maxFeePerGas,
            maxPriorityFeePerGas: request.maxPriorityFeePerGas,
          };
        },
      },
    });
    if (!signed) return undefined;
    ctx.justSigned.set(row.id, { hash: signed.tx.hash, raw: signed.tx.raw });
    logger.info(
      {
        settlementId: row.id,
        relayer: relayer.address,
        relayerNonce: signed.nonce.toString(),
        tx: signed.tx.hash,
        batch: signed.rows.length,
      },
      "signed",
    );
    fault("after_signed_commit");
    return signed.rows[0];
  }

  return { prepareAndSign };
}
