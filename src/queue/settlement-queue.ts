// The BullMQ queue is only a wake-up call for the worker: the job carries nothing but the
// settlement id (also its jobId, so a row has at most one live job). Losing Redis loses no
// payment; the reconciler re-enqueues every open row from Postgres.
import { Queue } from "bullmq";
import type { Redis } from "ioredis";

export const SETTLEMENT_QUEUE = "settlements";
export interface SettlementJob {
  id: string;
}

export interface SettlementQueue {
  enqueue(id: string, delayMs?: number): Promise<void>;
  /** Jobs by BullMQ state (waiting, active, delayed…), for the queue-depth metric. */
  counts(): Promise<Record<string, number>>;
  close(): Promise<void>;
}

export function createSettlementQueue(connection: Redis, prefix: string): SettlementQueue {
  const queue = new Queue<SettlementJob>(SETTLEMENT_QUEUE, { connection, prefix });
  return {
    async enqueue(id, delayMs) {
      await queue.add(
        "settle",
        { id },
        {
          jobId: id,
          delay: delayMs,
          removeOnComplete: true,
          removeOnFail: true,
          attempts: 3,
          backoff: { type: "exponential", delay: 500 },
        },
      );
    },
    counts: () => queue.getJobCounts("waiting", "active", "delayed", "prioritized", "failed"),
    close: () => queue.close(),
  };
}
