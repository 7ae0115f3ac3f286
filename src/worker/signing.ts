// Claimed → signed: re-simulate against the latest block, pick a relayer lane, and hand the
// settlement to the lane's signer, which allocates the nonce, signs and stores the raw transaction
// in one database transaction (write-ahead), with whatever else is ready on the lane, possibly in
// one Multicall3 batch (lane-signer.ts).
import type { PublicClient } from "viem";
import type { EnabledNetwork } from "../config/config.js";
import { LOG_LOOKBACK_BLOCKS, markEnded } from "../db/outcomes.js";
import type { SettlementRow } from "../db/settlements-repo.js";
import { isRevert } from "../evm/payment-reads.js";
import type { ClassifiedSignature } from "../evm/signature.js";
import { VALID_BEFORE_MARGIN_S } from "../schemes/scheme.js";
import { Reason } from "../x402/reasons.js";
import { ALONE, createLaneSigner } from "./lane-signer.js";
import { createFeeCache, initialFees } from "./fees.js";
import { createGasProber, createProbeSupport } from "./gas-prober.js";
import type { SettleContext } from "./settle-context.js";

/** Thrown when this worker holds no usable relayer lane for the chain: the job is retried. */
export class NoRelayerError extends Error {}

export function createSigning(ctx: SettleContext) {
  const { repo, logger, sideOf, fault, effectiveSignature, spentOr } = ctx;
  const deps = ctx;
  const marketFees = createFeeCache();
  // The single and the batch re-simulations judge the node's support of the probe together.
  const probes = createProbeSupport(logger);
  const signOnLane = createLaneSigner(ctx, probes);
  const probe = createGasProber(ctx.clientFor, probes);

  /** Why the chain refuses the transfer right now, as a terminal outcome for the row. */
  async function refusal(row: SettlementRow, client: PublicClient, signature: ClassifiedSignature, searchFromBlock: bigint) {
    const why = await sideOf(row).refusal(client, row, signature);
    if (why === "spent") return sideOf(row).explainSpent({ repo, logger }, client, row, searchFromBlock);
    // Fine again a moment later: the state moved under us; the next attempt looks again.
    if (!why) return undefined;
    return markEnded({ repo, logger }, row, "failed", why.reason, why.message);
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
    const fees = initialFees(await marketFees(net.chainId, client), net.maxFeePerGas);
    const request = {
      relayer: { chainId: net.chainId, address: relayer.address, owner: deps.owner },
      account: relayer,
      row,
      call,
      fees,
      searchFromBlock,
    };
    // A payment that names its sender (upto) is checked against the caller: never batched. A
    // batch candidate is re-simulated with its batch (lane-signer.ts).
    const batchable = !sender && sideOf(row).batchable(row, signature);
    const batching = (deps.batchMax ?? 1) > 1 && batchable;
    let signed = batching ? await signOnLane({ ...request, batchable: true }) : ALONE;
    if (signed === ALONE) {
      // A call that does not depend on its sender is re-simulated with the others ready now, in
      // one eth_call (gas-prober.ts); what the probe cannot vouch for is estimated alone.
      let gas =
        batchable && !batching
          ? await probe(net.chainId, { relayer: relayer.address, asset: row.asset, payer: row.payer, payTo: row.payTo, call })
          : undefined;
      // Estimating the exact call is the re-simulation: it reverts exactly when the transfer
      // would (spent, canceled, drained, blacklisted, paused…).
      if (gas === undefined)
        try {
          // Sent back by its batch's simulation: something pending (often the batch itself) is in
          // its way, so it is judged against the pending block, where that shows.
          gas = await client.estimateGas({ account: relayer.address, ...call, blockTag: batching ? "pending" : "latest" });
        } catch (err) {
          if (!isRevert(err)) throw err;
          return refusal(row, client, signature, searchFromBlock);
        }
      signed = await signOnLane({ ...request, gas, batchable: false });
    }
    if (signed === ALONE) throw new Error("a settlement with its own estimate was sent back unsigned");
    const mine = signed?.rows.find((r) => r.id === row.id);
    // Moved on meanwhile (another worker, or a race): the caller reads the row again.
    if (!signed || !mine) return undefined;
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
    return mine;
  }

  return { prepareAndSign };
}
