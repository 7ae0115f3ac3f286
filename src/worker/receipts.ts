// Submitted → mined → confirmed: wait block by block for a receipt of any stored transaction of
// the row (replacing or rebroadcasting along the way), judge it by the method's own evidence in
// its logs, and confirm once it is deep enough, watching for the block to be reorged out.
import { BaseError, type Hex, type PublicClient, type TransactionReceipt } from "viem";
import type { EnabledNetwork } from "../config/config.js";
import { markEnded, markMined } from "../db/outcomes.js";
import type { SettlementRow, SettlementTxRow } from "../db/settlements-repo.js";
import { MULTICALL3 } from "../evm/multicall.js";
import { createExpiringSet } from "../verify/expiring-set.js";
import { Reason } from "../x402/reasons.js";
import type { createSending } from "./sending.js";
import type { SettleContext } from "./settle-context.js";

/** Blocks a settlement waits on the watcher before it looks after its transaction itself. */
const HOUSEKEEPING_BLOCKS = 3;

export function createReceipts(ctx: SettleContext, sending: ReturnType<typeof createSending>) {
  const { repo, logger, sideOf, spentOr } = ctx;
  const deps = ctx;
  const { receiptTimeoutMs } = ctx;
  const { replace, rebroadcastIfDropped } = sending;
  const charged = createExpiringSet(3_600_000, 100_000);

  async function findReceipt(client: PublicClient, hashes: string[]): Promise<TransactionReceipt | undefined> {
    for (const hash of hashes) {
      try {
        return await client.getTransactionReceipt({ hash: hash as Hex });
      } catch (err) {
        if (!(err instanceof BaseError && err.name === "TransactionReceiptNotFoundError")) throw err;
      }
    }
    return undefined;
  }

  async function settleReceipt(row: SettlementRow, net: EnabledNetwork, client: PublicClient, receipt: TransactionReceipt) {
    // Gas is spent whatever the outcome: metered from the receipt, never from the estimate.
    ctx.metrics?.receipt(net.name, receipt);
    // The keys' daily gas budgets are metered from the same receipts (once per transaction).
    // Every settlement of a batch reads the same receipt: charged once from here.
    if (!charged.has(receipt.transactionHash)) {
      await ctx.gasMeter?.charge(receipt.transactionHash, receipt.gasUsed * receipt.effectiveGasPrice);
      charged.remember(receipt.transactionHash);
    }
    if (receipt.status === "success" && sideOf(row).paidIn(receipt.logs, row)) return markMined({ repo, logger }, row, receipt, true);
    // A mined batch whose call for this settlement failed alone: unless the authorization got
    // spent elsewhere, it simply goes back in line (its nonce is used by the batch, nothing lost).
    if (
      receipt.status === "success" &&
      receipt.to?.toLowerCase() === MULTICALL3.toLowerCase() &&
      (await repo.carriedBy(receipt.transactionHash)).length > 1
    ) {
      return spentOr(row, client, row.searchFromBlock ?? 0n, () =>
        repo.transition({
          id: row.id,
          from: row.state,
          version: row.version,
          to: "queued",
          patch: { relayerAddress: null, relayerNonce: null, latestTx: null },
          detail: { leftOutOf: receipt.transactionHash },
        }),
      );
    }
    // Reverted: most often someone else spent the authorization first (or the payer canceled);
    // otherwise the chain says why now (a balance drained ahead of it…), or it stays generic.
    return spentOr(row, client, row.searchFromBlock ?? 0n, async () => {
      const why = await sideOf(row)
        .refusal(client, row, await ctx.effectiveSignature(row, client))
        .catch(() => undefined);
      const known = why && why !== "spent" ? why : undefined;
      return markEnded(
        { repo, logger },
        row,
        "failed",
        known?.reason ?? Reason.transactionFailed,
        known
          ? `transaction ${receipt.transactionHash} reverted: ${known.message ?? known.reason}`
          : `transaction ${receipt.transactionHash} reverted`,
      );
    });
  }

  /**
   * Waits for a receipt of any transaction stored for the row, as the chain's watcher reads new
   * blocks. Every few blocks without one, and when it is time to: rebroadcast what the node
   * dropped, replace what waits too long, look for the receipt directly (a block the watcher
   * skipped), and stop caring once the authorization has expired unused (a pending transaction
   * of ours then just reverts, or the lane's gap check fills its nonce).
   */
  async function awaitReceipt(row: SettlementRow, net: EnabledNetwork, client: PublicClient) {
    const deadline = Date.now() + receiptTimeoutMs;
    const watch = deps.watchFor(net.chainId);
    const sent = ctx.justBroadcast.get(row.id);
    ctx.justBroadcast.delete(row.id);
    let sentAt = sent?.at;
    // A transaction this process just signed and sent is the row's only one: no need to read it
    // back until it is time to look after it (replace or rebroadcast it).
    let txs: SettlementTxRow[] | undefined = sent?.only && sent.only === row.latestTx ? undefined : await repo.txsOf(row.id);
    const ownOnly = { hash: sent?.only ?? "", createdAt: new Date(sent?.at ?? 0) };
    for (;;) {
      const hashes = txs ? txs.map((t) => t.hash).reverse() : [ownOnly.hash];
      const replaceAt = (txs ? txs.at(-1)!.createdAt : ownOnly.createdAt).getTime() + net.replaceAfterSeconds * 1000;
      // Registered before the direct look: a block mined after that look reaches the watcher.
      const watching = watch.receipt(hashes, {
        blocks: HOUSEKEEPING_BLOCKS,
        deadline: Math.min(deadline, Math.max(replaceAt, Date.now() + 1)),
      });
      // Sent by this process while the watcher was reading every block: nothing to look for.
      const covered = sentAt !== undefined && watch.coveredSince(sentAt);
      sentAt = undefined;
      const direct = covered
        ? undefined
        : await findReceipt(client, hashes).catch((err: unknown) => {
            watching.cancel();
            throw err;
          });
      if (direct) {
        watching.cancel();
        return settleReceipt(row, net, client, direct);
      }
      const found = await watching.result;
      if (found) return settleReceipt(row, net, client, found);
      if (Date.now() >= deadline || deps.stopping?.()) return undefined;
      const head = watch.head() ?? (await ctx.latestBlock(net.chainId, client));
      if (head.timestamp >= BigInt(row.validBefore)) {
        return spentOr(row, client, row.searchFromBlock ?? 0n, () =>
          markEnded({ repo, logger }, row, "expired", sideOf(row).expiredReason, "expired before any of its transactions was mined"),
        );
      }
      txs ??= await repo.txsOf(row.id);
      const latest = txs.at(-1)!;
      if (Date.now() >= replaceAt) {
        const next = await replace(row, net, client, latest);
        if (next) {
          row = next;
          txs = await repo.txsOf(row.id);
        }
      } else {
        await rebroadcastIfDropped(row, client, latest);
      }
    }
  }

  async function confirm(row: SettlementRow, net: EnabledNetwork, client: PublicClient) {
    const deadline = Date.now() + receiptTimeoutMs;
    const clock = deps.clockFor(net.chainId);
    for (let head = await clock.next(-1n, deadline); head - row.blockNumber! + 1n < BigInt(Math.max(net.confirmations, 1));) {
      if (Date.now() > deadline || deps.stopping?.()) return undefined;
      head = await clock.next(head, deadline);
    }
    const block = await ctx.blockAt(net.chainId, client, row.blockNumber!);
    if (block.hash !== row.blockHash) {
      logger.warn({ settlementId: row.id, blockNumber: row.blockNumber?.toString() }, "settlement's block was reorged out");
      return repo.transition({
        id: row.id,
        from: "mined",
        version: row.version,
        to: "submitted",
        patch: { settledTx: null, blockHash: null, blockNumber: null },
        detail: { reorg: true },
      });
    }
    return repo.transition({
      id: row.id,
      from: "mined",
      version: row.version,
      to: "confirmed",
      detail: { confirmations: net.confirmations },
    });
  }

  return { awaitReceipt, confirm };
}
