// The worker's state machine: advance(id) moves one settlement as far as the chain allows
// right now, one compare-and-set transition at a time, and is safe to run twice concurrently
// or after a crash at any point. Write-ahead: the signed transaction is committed before it
// is broadcast, so every hash that can land on chain is on record.
import type { Logger } from "pino";
import { BaseError, keccak256, type Hex, type PublicClient, type TransactionReceipt } from "viem";
import type { EnabledNetwork } from "../config/config.js";
import { TERMINAL_STATES } from "../db/schema.js";
import type { SettlementRow, SettlementsRepo, SettlementTxRow } from "../db/settlements-repo.js";
import { isAlreadySent } from "../evm/already-sent.js";
import { MULTICALL3 } from "../evm/multicall.js";
import { isRevert, readPayerCode } from "../evm/payment-reads.js";
import { classifySignature, type ClassifiedSignature } from "../evm/signature.js";
import { LOG_LOOKBACK_BLOCKS, markEnded, markMined } from "../db/outcomes.js";
import { VALID_BEFORE_MARGIN_S, type MethodRegistry } from "../schemes/scheme.js";
import { Reason } from "../x402/reasons.js";
import type { BlockClock } from "./block-clock.js";
import { batchCall, callFor } from "./batch-call.js";
import { createFeeCache, initialFees, replacementFees } from "./fees.js";
import type { RelayerPool } from "./relayer-pool.js";

/** Thrown when this worker holds no usable relayer lane for the chain: the job is retried. */
export class NoRelayerError extends Error {}

export interface SettlerDeps {
  repo: SettlementsRepo;
  /** The payment methods: each row's own one builds its call and reads its outcome. */
  methods: MethodRegistry;
  networks: readonly EnabledNetwork[];
  clientFor(chainId: number): PublicClient;
  pool: Pick<RelayerPool, "pick" | "leasedAccount">;
  owner: string;
  clockFor(chainId: number): BlockClock;
  logger: Logger;
  faultPoint?: string;
  /** Up to this many claimed settlements share one transaction through Multicall3 (1: off). */
  batchMax?: number;
  /** True once the worker is shutting down: waiting loops end (everything is already stored). */
  stopping?: () => boolean;
  /** Longest a job waits for a receipt before leaving the row to the reconciler. */
  receiptTimeoutMs?: number;
}

export function createSettler(deps: SettlerDeps) {
  const { repo, logger, methods } = deps;
  const sideOf = (row: SettlementRow) => methods.forRow(row).settlement;
  const networks = new Map(deps.networks.map((n) => [n.chainId, n]));
  const receiptTimeoutMs = deps.receiptTimeoutMs ?? 60_000;
  const marketFees = createFeeCache();

  const fault = (point: string) => {
    if (deps.faultPoint === point) {
      logger.warn({ point }, "fault point reached: killing the worker");
      process.kill(process.pid, "SIGKILL");
    }
  };

  /** The ERC-6492 deployment is kept only while the payer's wallet does not exist yet. */
  async function effectiveSignature(row: SettlementRow, client: PublicClient): Promise<ClassifiedSignature> {
    const sig = classifySignature(row.signature as Hex);
    if (!sig.deployment) return sig;
    return (await readPayerCode(client, row.payer as Hex)) ? { inner: sig.inner } : sig;
  }

  /** A spent authorization is explained from the logs (paid, or canceled); otherwise `otherwise` decides. */
  async function spentOr(row: SettlementRow, client: PublicClient, fromBlock: bigint, otherwise: () => Promise<SettlementRow | undefined>) {
    const spent = await sideOf(row).isSpent(client, row);
    return spent ? sideOf(row).explainSpent({ repo, logger }, client, row, fromBlock) : otherwise();
  }

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
    const head = await client.getBlock({ blockTag: "latest" });
    const searchFromBlock = row.searchFromBlock ?? (head.number > LOG_LOOKBACK_BLOCKS ? head.number - LOG_LOOKBACK_BLOCKS : 0n);
    const signature = await effectiveSignature(row, client);
    // The token compares validBefore with block time, so the chain's clock decides.
    if (BigInt(row.validBefore) < head.timestamp + VALID_BEFORE_MARGIN_S) {
      return spentOr(row, client, searchFromBlock, () =>
        markEnded({ repo, logger }, row, "expired", Reason.validBefore, "expired before it could be sent"),
      );
    }

    const relayer = deps.pool.pick(net.chainId);
    if (!relayer) throw new NoRelayerError(`no leased, funded relayer on chain ${net.chainId} in this worker`);
    const call = sideOf(row).call(row, signature);
    // Estimating the exact call at the pending block is the re-simulation: it reverts exactly
    // when the transfer would (spent, canceled, drained, blacklisted, paused…).
    let gas: bigint;
    try {
      gas = await client.estimateGas({ account: relayer.address, ...call, blockTag: "pending" });
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
    const signed = await repo.allocateSignAndStore(
      members.map((m) => ({
        id: m.id,
        from: m.state,
        version: m.version,
        patch: { searchFromBlock: m.searchFromBlock ?? searchFromBlock },
      })),
      { chainId: net.chainId, address: relayer.address, owner: deps.owner },
      async (nonce, ids) => {
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
    );
    if (!signed) return undefined;
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

  async function broadcast(row: SettlementRow, client: PublicClient) {
    const txs = await repo.txsOf(row.id);
    const latest = txs.at(-1);
    if (!latest) return markEnded({ repo, logger }, row, "needs_review", "signed_without_transaction");
    try {
      await client.sendRawTransaction({ serializedTransaction: latest.rawTx as Hex });
    } catch (err) {
      // Already in the pool or already mined: the receipt decides. Anything else retries.
      if (!isAlreadySent(err)) throw err;
    }
    fault("after_broadcast");
    return repo.transition({ id: row.id, from: "signed", version: row.version, to: "submitted", txHash: latest.hash });
  }

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

  async function settleReceipt(row: SettlementRow, client: PublicClient, receipt: TransactionReceipt) {
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
    // Reverted: most often someone else spent the authorization first (or the payer canceled).
    return spentOr(row, client, row.searchFromBlock ?? 0n, () =>
      markEnded({ repo, logger }, row, "failed", Reason.transactionFailed, `transaction ${receipt.transactionHash} reverted`),
    );
  }

  /** Same nonce, same call, higher fees; stored before it is broadcast. */
  async function replace(row: SettlementRow, net: EnabledNetwork, client: PublicClient, latest: SettlementTxRow) {
    const account = deps.pool.leasedAccount(net.chainId, row.relayerAddress!);
    if (!account) return undefined;
    const previous = { maxFeePerGas: BigInt(latest.maxFeePerGas), maxPriorityFeePerGas: BigInt(latest.maxPriorityFeePerGas) };
    const fees = replacementFees(previous, await client.estimateFeesPerGas(), net.maxFeePerGas);
    if (!fees) {
      logger.warn(
        { settlementId: row.id, tx: latest.hash, cap: net.maxFeePerGas.toString() },
        "not mined, and the fee ceiling leaves no room to replace it",
      );
      return undefined;
    }
    // A batch is replaced as a whole: every settlement it carries moves to the new hash.
    const carried = await repo.carriedBy(latest.hash);
    if (carried.some((r) => r.state !== "submitted")) return undefined;
    const call = callFor(methods, carried, sideOf(row).call(row, await effectiveSignature(row, client)));
    const request = {
      chainId: net.chainId,
      type: "eip1559" as const,
      nonce: Number(row.relayerNonce),
      ...call,
      gas: BigInt(latest.gasLimit),
      ...fees,
    };
    const raw = await account.signTransaction(request);
    const signed = { hash: keccak256(raw), raw, gas: request.gas, ...fees };
    const replaced = await repo.storeReplacement(carried, { chainId: net.chainId, owner: deps.owner }, signed, {
      replaces: latest.hash,
      maxFeePerGas: fees.maxFeePerGas.toString(),
      maxPriorityFeePerGas: fees.maxPriorityFeePerGas.toString(),
    });
    const next = replaced?.find((r) => r.id === row.id);
    if (!next) return undefined;
    logger.info(
      { settlementId: row.id, replaces: latest.hash, tx: signed.hash, maxFeePerGas: fees.maxFeePerGas.toString() },
      "replaced with higher fees",
    );
    await client
      .sendRawTransaction({ serializedTransaction: raw })
      .catch((err: unknown) => logger.warn({ settlementId: row.id, err }, "replacement refused; the previous one stays"));
    return next;
  }

  /** Hands the node the stored bytes again when it no longer knows the transaction (dropped). */
  async function rebroadcastIfDropped(row: SettlementRow, client: PublicClient, latest: SettlementTxRow) {
    try {
      await client.getTransaction({ hash: latest.hash as Hex });
    } catch (err) {
      if (!(err instanceof BaseError && err.name === "TransactionNotFoundError")) throw err;
      logger.warn({ settlementId: row.id, tx: latest.hash }, "transaction dropped: rebroadcasting it");
      await client
        .sendRawTransaction({ serializedTransaction: latest.rawTx as Hex })
        .catch((e: unknown) => logger.warn({ settlementId: row.id, err: e }, "rebroadcast refused"));
    }
  }

  /**
   * Waits, one block at a time, for a receipt of any transaction stored for the row. Along the
   * way: rebroadcast what the node dropped, replace what waits too long, and stop caring once
   * the authorization has expired unused (a pending transaction of ours then just reverts, or
   * the lane's gap check fills its nonce).
   */
  async function awaitReceipt(row: SettlementRow, net: EnabledNetwork, client: PublicClient) {
    const deadline = Date.now() + receiptTimeoutMs;
    const clock = deps.clockFor(net.chainId);
    let seen = -1n;
    for (;;) {
      const txs = await repo.txsOf(row.id);
      const found = await findReceipt(client, txs.map((t) => t.hash).reverse());
      if (found) return settleReceipt(row, client, found);
      if (Date.now() >= deadline || deps.stopping?.()) return undefined;
      const latest = txs.at(-1)!;
      if (seen >= 0n) {
        const head = await client.getBlock({ blockTag: "latest" });
        if (head.timestamp >= BigInt(row.validBefore)) {
          return spentOr(row, client, row.searchFromBlock ?? 0n, () =>
            markEnded({ repo, logger }, row, "expired", Reason.validBefore, "expired before any of its transactions was mined"),
          );
        }
        if (Date.now() - latest.createdAt.getTime() >= net.replaceAfterSeconds * 1000) {
          const next = await replace(row, net, client, latest);
          if (next) row = next;
        } else {
          await rebroadcastIfDropped(row, client, latest);
        }
      }
      seen = await clock.next(
        seen < 0n ? await client.getBlockNumber({ cacheTime: 0 }) : seen,
        Math.min(deadline, Date.now() + net.replaceAfterSeconds * 1000),
      );
    }
  }

  async function confirm(row: SettlementRow, net: EnabledNetwork, client: PublicClient) {
    const deadline = Date.now() + receiptTimeoutMs;
    const clock = deps.clockFor(net.chainId);
    for (let head = await client.getBlockNumber({ cacheTime: 0 }); head - row.blockNumber! + 1n < BigInt(Math.max(net.confirmations, 1));) {
      if (Date.now() > deadline || deps.stopping?.()) return undefined;
      head = await clock.next(head, deadline);
    }
    const block = await client.getBlock({ blockNumber: row.blockNumber! });
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

  async function step(row: SettlementRow): Promise<SettlementRow | undefined> {
    const net = networks.get(row.chainId);
    if (!net) {
      logger.error({ settlementId: row.id, chainId: row.chainId }, "settlement on a network this worker does not serve");
      return undefined;
    }
    const client = deps.clientFor(row.chainId);
    switch (row.state) {
      case "received":
      case "queued":
        return prepareAndSign(row, net, client);
      case "signed":
        return broadcast(row, client);
      case "submitted":
        return awaitReceipt(row, net, client);
      case "mined":
        return confirm(row, net, client);
      default:
        return undefined;
    }
  }

  /** Moves the row as far as it can go now; returns its state afterwards. */
  return async function advance(id: string): Promise<string | undefined> {
    let row = await repo.findById(id);
    for (let raced = 0; row && !TERMINAL_STATES.has(row.state);) {
      const next = await step(row);
      if (next) {
        row = next;
        continue;
      }
      // No progress: either nothing to do yet, or someone else moved the row (then go on from there).
      const fresh = await repo.findById(id);
      if (!fresh || fresh.version === row.version || ++raced > 3) return fresh?.state;
      row = fresh;
    }
    return row?.state;
  };
}

export type Settler = ReturnType<typeof createSettler>;
