// Redis is only a wake-up signal: this sweep re-enqueues every open ledger row (jobIds dedupe
// rows that still have a live job), so a lost job, a flushed Redis or a crashed worker delays a
// settlement but never strands it.
import type { Logger } from "pino";
import type { SettlementsRepo } from "../db/settlements-repo.js";
import type { SettlementQueue } from "../queue/settlement-queue.js";

export interface Reconciler {
  sweep(): Promise<number>;
  stop(): void;
}

export function startReconciler(deps: {
  repo: Pick<SettlementsRepo, "listOpen">;
  queue: SettlementQueue;
  logger: Logger;
  intervalMs: number;
}): Reconciler {
  let running = false;
  const sweep = async (): Promise<number> => {
    if (running) return 0;
    running = true;
    try {
      const open = await deps.repo.listOpen();
      // needs_review waits for an operator; everything else can move by itself.
      const movable = open.filter((r) => r.state !== "needs_review");
      for (const row of movable) await deps.queue.enqueue(row.id);
      return movable.length;
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => {
    sweep().catch((err: unknown) => deps.logger.warn({ err }, "reconciler sweep failed"));
  }, deps.intervalMs);
  timer.unref();
  return { sweep, stop: () => clearInterval(timer) };
}
