// The worker's state machine: advance(id) moves one settlement as far as the chain allows
// right now, one compare-and-set transition at a time, and is safe to run twice concurrently
// or after a crash at any point. Write-ahead: the signed transaction is committed before it
// is broadcast, so every hash that can land on chain is on record. The stages live in
// signing.ts, sending.ts and receipts.ts; each row's payment method builds its call and reads
// its outcome (src/schemes).
import { TERMINAL_STATES } from "../db/schema.js";
import type { SettlementRow } from "../db/settlements-repo.js";
import { createReceipts } from "./receipts.js";
import { createSending } from "./sending.js";
import { createSettleContext, type SettlerDeps } from "./settle-context.js";
import { createSigning } from "./signing.js";
import { isSvmChainId } from "../config/solana-networks.js";

export { NoRelayerError } from "./signing.js";
export type { SettlerDeps } from "./settle-context.js";

export function createSettler(deps: SettlerDeps & { svmStep?: (row: SettlementRow) => Promise<SettlementRow | undefined> }) {
  const ctx = createSettleContext(deps);
  const { logger } = ctx;
  const { repo } = ctx;
  const networks = new Map(deps.networks.map((n) => [n.chainId, n]));
  const { prepareAndSign } = createSigning(ctx);
  const sending = createSending(ctx);
  const { broadcast } = sending;
  const { awaitReceipt, confirm } = createReceipts(ctx, sending);

  async function step(row: SettlementRow): Promise<SettlementRow | undefined> {
    // Solana rows have their own machine (svm-settler.ts); the ledger and this loop are shared.
    if (isSvmChainId(row.chainId)) {
      if (deps.svmStep) return deps.svmStep(row);
      logger.error({ settlementId: row.id }, "Solana settlement, but this worker serves no Solana cluster");
      return undefined;
    }
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
        if (next.state !== row.state) deps.metrics?.moved(next.state, row.updatedAt, next.updatedAt, row.createdAt);
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
