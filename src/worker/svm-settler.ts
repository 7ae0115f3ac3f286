// The worker's state machine for Solana rows. The payer signed the whole transaction; we add the
// fee payer's signature, which is deterministic (Ed25519), so the transaction and its id are
// fixed the moment the row is claimed. Write-ahead: the id is committed (`signed`) before the
// first send, and every later step re-sends the very same bytes, which a cluster runs at most
// once. A transaction is dead only when its blockhash has expired and the cluster, searched
// through its history, has never seen it: then the row ends `expired` and nothing was paid.
import type { Logger } from "pino";
import { signature as toSignature } from "@solana/kit";
import type { EnabledSvmNetwork } from "../config/solana-networks.js";
import type { SettlementRow, SettlementsRepo } from "../db/settlements-repo.js";
import type { WorkerMetrics } from "../metrics/worker.js";
import { SvmReason } from "../schemes/svm/exact/reasons.js";
import { checkLayout, decompiled } from "../schemes/svm/exact/layout.js";
import { describeError } from "../schemes/svm/exact/verify.js";
import type { FeePayer } from "../svm/fee-payer-keys.js";
import { feeLamports } from "../svm/fee.js";
import type { SvmRpc } from "../svm/rpc.js";
import { decodeWireTransaction, encodeWireTransaction, toBase58, withSignature, type WireTransaction } from "../svm/wire-transaction.js";

const POLL_MS = 400;
/** A sent transaction not yet seen is sent again this often until its blockhash expires. */
const RESEND_MS = 2_000;
const RANK = { processed: 0, confirmed: 1, finalized: 2 } as const;

export interface SvmSettlerDeps {
  repo: Pick<SettlementsRepo, "transition">;
  networkOf(chainId: number): EnabledSvmNetwork | undefined;
  rpcFor(network: EnabledSvmNetwork): SvmRpc;
  feePayers: ReadonlyMap<string, FeePayer>;
  logger: Logger;
  fault(point: string): void;
  stopping?: () => boolean;
  /** Longest one pass waits for a sent transaction before leaving the row to the reconciler. */
  waitMs?: number;
  metrics?: Pick<WorkerMetrics, "svmFee">;
}

interface Signed {
  wire: string;
  id: string;
  tx: WireTransaction;
  feePayer: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class NoFeePayerError extends Error {
  constructor(feePayer: string) {
    super(`this worker does not hold the fee payer ${feePayer}; another worker will`);
    this.name = "NoFeePayerError";
  }
}

export function createSvmSettler(deps: SvmSettlerDeps) {
  const { repo, logger } = deps;
  const signedCache = new Map<string, Signed>();

  /** The fully signed transaction of a row: the same bytes every time it is asked for. */
  function signedOf(row: SettlementRow): Signed {
    const cached = signedCache.get(row.id);
    if (cached) return cached;
    const payload = row.payload as { transaction?: string } | null;
    const tx = payload?.transaction ? decodeWireTransaction(payload.transaction) : undefined;
    if (!tx) throw new Error(`settlement ${row.id} holds no readable Solana transaction`);
    const feePayer = tx.message.staticAccounts[0]!;
    const key = deps.feePayers.get(feePayer);
    if (!key) throw new NoFeePayerError(feePayer);
    const signature = key.sign(Uint8Array.from(tx.transaction.messageBytes));
    const full = withSignature(tx.transaction, feePayer, signature);
    const signed = { wire: encodeWireTransaction(full), id: toBase58(signature), tx: { ...tx, transaction: full }, feePayer };
    signedCache.set(row.id, signed);
    if (signedCache.size > 10_000) signedCache.delete(signedCache.keys().next().value!);
    return signed;
  }

  async function statusOf(rpc: SvmRpc, id: string, history = false) {
    const { value } = await rpc.getSignatureStatuses([toSignature(id)], { searchTransactionHistory: history }).send();
    return value[0] ?? null;
  }

  const blockhashAlive = async (rpc: SvmRpc, row: SettlementRow) =>
    (await rpc.isBlockhashValid(row.nonce as Parameters<SvmRpc["isBlockhashValid"]>[0], { commitment: "processed" }).send()).value;

  const end = (row: SettlementRow, to: "failed" | "expired", reason: string, message: string) =>
    repo.transition({ id: row.id, from: row.state, version: row.version, to, patch: { errorReason: reason, errorMessage: message } });

  /** The row's transaction judged against the row (undefined: it does not decompile). */
  async function layoutOf(row: SettlementRow, net: EnabledSvmNetwork, signed: Signed) {
    const instructions = decompiled(signed.tx.message);
    if (!instructions) return undefined;
    return checkLayout(instructions, {
      network: net,
      asset: row.asset,
      payTo: row.payTo,
      amount: BigInt(row.value),
      feePayers: [signed.feePayer],
    });
  }

  /** queued → signed: judged once more against the cluster, then the id committed before any send. */
  async function sign(row: SettlementRow, net: EnabledSvmNetwork, rpc: SvmRpc) {
    const signed = signedOf(row);
    if (!(await blockhashAlive(rpc, row)))
      return end(row, "expired", SvmReason.blockhashExpired, "the blockhash expired before it could be sent");
    const layout = await layoutOf(row, net, signed);
    // Never sign anything but the verified transfer, whatever reached the ledger.
    if (!layout || "reason" in layout)
      return end(row, "failed", layout?.reason ?? SvmReason.couldNotBeDecoded, layout?.message ?? "not the transfer that was verified");
    const simulation = await rpc
      .simulateTransaction(signed.wire as Parameters<SvmRpc["simulateTransaction"]>[0], {
        encoding: "base64",
        sigVerify: true,
        commitment: "confirmed",
      })
      .send();
    if (simulation.value.err)
      return end(row, "failed", SvmReason.simulationFailed, `simulation failed: ${describeError(simulation.value.err)}`);
    deps.fault("before_sign");
    const next = await repo.transition({
      id: row.id,
      from: row.state,
      version: row.version,
      to: "signed",
      patch: { latestTx: signed.id, relayerAddress: signed.feePayer },
      txHash: signed.id,
    });
    if (next) deps.fault("after_signed_commit");
    return next;
  }

  /** signed → submitted: the same bytes, however many times a crash makes us get here. */
  async function send(row: SettlementRow, rpc: SvmRpc) {
    const signed = signedOf(row);
    await rpc
      .sendTransaction(signed.wire as Parameters<SvmRpc["sendTransaction"]>[0], {
        encoding: "base64",
        skipPreflight: true,
        preflightCommitment: "confirmed",
      })
      .send();
    deps.fault("after_broadcast");
    return repo.transition({ id: row.id, from: row.state, version: row.version, to: "submitted", txHash: signed.id });
  }

  /** submitted → mined → confirmed, or failed on chain, or expired unseen. */
  async function follow(row: SettlementRow, net: EnabledSvmNetwork, rpc: SvmRpc) {
    const signed = signedOf(row);
    const deadline = Date.now() + (deps.waitMs ?? 90_000);
    let lastSend = Date.now();
    // Once the blockhash is dead the transaction can only be in the cluster's history.
    let expired = false;
    while (Date.now() < deadline && !deps.stopping?.()) {
      const status = await statusOf(rpc, signed.id, expired);
      if (status) {
        // Nothing counts before the cluster's commitment: a processed transaction can still be dropped.
        if (RANK[status.confirmationStatus ?? "processed"] >= RANK[net.commitment]) {
          const landed = { blockNumber: BigInt(status.slot), settledTx: signed.id };
          // mined (what /settle answers success on) only for a transfer that ran; then confirmed.
          if (!status.err && row.state === "submitted")
            return repo.transition({ id: row.id, from: row.state, version: row.version, to: "mined", patch: landed, txHash: signed.id });
          return decide(row, net, signed, status.err, landed);
        }
      } else if (expired) {
        return end(row, "expired", SvmReason.blockhashExpired, "the blockhash expired before the transaction landed");
      } else if (Date.now() - lastSend >= RESEND_MS) {
        // The blockhash is asked about only as often as the transaction is sent again.
        if (!(await blockhashAlive(rpc, row))) {
          expired = true;
          continue;
        }
        lastSend = Date.now();
        await rpc
          .sendTransaction(signed.wire as Parameters<SvmRpc["sendTransaction"]>[0], { encoding: "base64", skipPreflight: true })
          .send()
          .catch((err: unknown) => logger.debug({ err, settlementId: row.id }, "resend failed"));
      }
      await sleep(POLL_MS);
    }
    return undefined;
  }

  async function decide(
    row: SettlementRow,
    net: EnabledSvmNetwork,
    signed: Signed,
    err: unknown,
    landed: { blockNumber: bigint; settledTx: string },
  ) {
    const layout = await layoutOf(row, net, signed);
    const fee = layout && "layout" in layout ? feeLamports(signed.tx, layout.layout.computeUnits, layout.layout.microLamports) : undefined;
    const detail = { feeLamports: fee?.toString(), slot: landed.blockNumber.toString() };
    const next = err
      ? await repo.transition({
          id: row.id,
          from: row.state,
          version: row.version,
          to: "failed",
          patch: { ...landed, errorReason: SvmReason.transactionFailed, errorMessage: `failed on chain: ${describeError(err)}` },
          txHash: signed.id,
          detail,
        })
      : await repo.transition({
          id: row.id,
          from: row.state,
          version: row.version,
          to: "confirmed",
          patch: { ...landed, settledBy: "self" },
          txHash: signed.id,
          detail,
        });
    if (next && fee !== undefined) deps.metrics?.svmFee(net.name, signed.feePayer, fee);
    return next;
  }

  /** One step for a Solana row; undefined when nothing can move now. */
  return async function step(row: SettlementRow): Promise<SettlementRow | undefined> {
    const net = deps.networkOf(row.chainId);
    if (!net) {
      logger.error({ settlementId: row.id, chainId: row.chainId }, "Solana settlement on a cluster this worker does not serve");
      return undefined;
    }
    const rpc = deps.rpcFor(net);
    switch (row.state) {
      case "received":
      case "queued":
        return sign(row, net, rpc);
      case "signed":
        return send(row, rpc);
      case "submitted":
      case "mined":
        return follow(row, net, rpc);
      default:
        return undefined;
    }
  };
}
