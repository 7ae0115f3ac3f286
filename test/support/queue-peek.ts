// Read-only look at the BullMQ keys of one settlement queue, for failure messages: where each
// settlement's job is (wait / active / delayed / gone) and how long its lock still lives.
import { Redis } from "ioredis";
import { SETTLEMENT_QUEUE } from "../../src/queue/settlement-queue.js";

export async function peekJobs(redisUrl: string, prefix: string, ids: string[]): Promise<string> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  redis.on("error", () => {}); // connect() reports it
  try {
    await redis.connect();
    const base = `${prefix}:${SETTLEMENT_QUEUE}`;
    const [active, wait, delayed] = await Promise.all([
      redis.lrange(`${base}:active`, 0, -1),
      redis.lrange(`${base}:wait`, 0, -1),
      redis.zrange(`${base}:delayed`, "0", "-1"),
    ]);
    const lines = await Promise.all(
      ids.map(async (id) => {
        const [exists, lockTtl, attempts] = await Promise.all([
          redis.exists(`${base}:${id}`),
          redis.pttl(`${base}:${id}:lock`),
          redis.hget(`${base}:${id}`, "atm"),
        ]);
        const where = active.includes(id)
          ? "active"
          : wait.includes(id)
            ? "wait"
            : delayed.includes(id)
              ? "delayed"
              : exists
                ? "other"
                : "no job";
        return `job ${id}: ${where}${exists ? "" : " (no job hash)"}, lock ttl ${lockTtl < 0 ? "none" : `${lockTtl} ms`}, attempts ${attempts ?? "-"}`;
      }),
    );
    return lines.join("\n");
  } catch (err) {
    return `(could not read the queue: ${(err as Error).message})`;
  } finally {
    redis.disconnect();
  }
}
