// Putting stored transactions on the wire: the first broadcast (signed → submitted), the same
// bytes again when the node dropped them, and a fee-bumped replacement at the same nonce, which
// is stored before it is sent like every transaction.
import { BaseError, keccak256, type Hex, type PublicClient } from "viem";
import type { EnabledNetwork } from "../config/config.js";
import { markEnded } from "../db/outcomes.js";
import type { SettlementRow, SettlementTxRow } from "../db/settlements-repo.js";
import { isAlreadySent } from "../evm/already-sent.js";
import { callFor } from "./batch-call.js";
import { replacementFees } from "./fees.js";
import type { SettleContext } from "./settle-context.js";

/** How long a sent hash is remembered, so the rest of its batch does not send it again. */
const SENT_MEMORY_MS = 60_000;

export function createSending(ctx: SettleContext) {
  const { repo, logger, methods, sideOf, fault, effectiveSignature } = ctx;
  const deps = ctx;
  const sending = new Map<string, Promise<void>>();

  async function broadcast(row: SettlementRow, client: PublicClient) {
    const mine = ctx.justSigned.get(row.id);
    ctx.justSigned.delete(row.id);
    const latest = mine?.hash === row.latestTx ? { hash: mine.hash, rawTx: mine.raw } : (await repo.txsOf(row.id)).at(-1);
    if (!latest) return markEnded({ repo, logger }, row, "needs_review", "signed_without_transaction");
    // Noted before the send: a block read from now on is one it may be in.
    ctx.justBroadcast.set(row.id, { at: Date.now(), only: mine?.hash === row.latestTx ? mine.hash : undefined });
    // A batch is one transaction for several settlements: they share one send of it.
    let send = sending.get(latest.hash);
    if (!send) {
      send = client.sendRawTransaction({ serializedTransaction: latest.rawTx as Hex }).then(
        () => undefined,
        (err: unknown) => {
          // Already in the pool or already mined: the receipt decides. Anything else retries.
          if (!isAlreadySent(err)) throw err;
        },
      );
      sending.set(latest.hash, send);
      void send.then(
        () => setTimeout(() => sending.delete(latest.hash), SENT_MEMORY_MS).unref(),
        () => sending.delete(latest.hash),
      );
    }
    await send;
    fault("after_broadcast");
    return repo.transition({ id: row.id, from: "signed", version: row.version, to: "submitted", txHash: latest.hash });
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
    ctx.metrics?.replaced(net.name, account.address);
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

  return { broadcast, replace, rebroadcastIfDropped };
}
