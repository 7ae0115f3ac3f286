// A reorg deeper than a network's confirmation depth can remove a block after its settlements
// were confirmed. Confirmed is meant to be final, so this is not repaired automatically: the
// audit re-reads the block of every recently confirmed settlement and sends any whose block is
// gone to needs_review, where an operator sees it (and the reason says why).
import type { Logger } from "pino";
import type { Hex, PublicClient } from "viem";
import type { SettlementsRepo } from "../db/settlements-repo.js";
import { isSvmChainId } from "../config/solana-networks.js";

export interface ReorgAuditDeps {
  repo: Pick<SettlementsRepo, "listRecentlyConfirmed" | "transition">;
  clientFor(chainId: number): PublicClient;
  logger: Logger;
  /** How far back confirmed settlements are re-checked. */
  windowMs: number;
}

export async function auditConfirmed(deps: ReorgAuditDeps): Promise<number> {
  // Solana rows confirm at the cluster's commitment, which is already the finality asked for.
  const rows = (await deps.repo.listRecentlyConfirmed(new Date(Date.now() - deps.windowMs))).filter((r) => !isSvmChainId(r.chainId));
  // One block read per distinct block, however many settlements it holds.
  const canonical = new Map<string, Promise<Hex | undefined>>();
  const hashAt = (chainId: number, n: bigint) => {
    const key = `${chainId}:${n}`;
    if (!canonical.has(key))
      canonical.set(
        key,
        deps
          .clientFor(chainId)
          .getBlock({ blockNumber: n })
          .then(
            (b) => b.hash ?? undefined,
            () => undefined,
          ),
      );
    return canonical.get(key)!;
  };
  let flagged = 0;
  for (const row of rows) {
    if (row.blockNumber === null || !row.blockHash) continue;
    const hash = await hashAt(row.chainId, row.blockNumber);
    if (hash === undefined || hash === row.blockHash) continue;
    deps.logger.error(
      { settlementId: row.id, blockNumber: row.blockNumber.toString(), tx: row.settledTx },
      "confirmed settlement's block was reorged out: needs review",
    );
    const moved = await deps.repo.transition({
      id: row.id,
      from: "confirmed",
      version: row.version,
      to: "needs_review",
      patch: { errorReason: "reorged_after_confirmation", errorMessage: `block ${row.blockNumber} is no longer ${row.blockHash}` },
      detail: { reorg: "deep", canonical: hash },
    });
    if (moved) flagged++;
  }
  return flagged;
}
