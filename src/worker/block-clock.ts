// One block-number poll per chain, shared by every job waiting on that chain: waiting jobs
// look for receipts once per new block instead of each polling on its own.
import type { PublicClient } from "viem";

export interface BlockClock {
  /** Resolves with the head once it is above `seen`, or with the current head at `deadline`. */
  next(seen: bigint, deadline: number): Promise<bigint>;
  stop(): void;
}

export function createBlockClock(client: PublicClient, pollingMs: number): BlockClock {
  let head = -1n;
  const waiters = new Set<() => void>();
  let timer: NodeJS.Timeout | undefined;
  let polling = false;

  const poll = async () => {
    if (polling) return;
    polling = true;
    try {
      const n = await client.getBlockNumber({ cacheTime: 0 });
      if (n > head) {
        head = n;
        for (const w of [...waiters]) w();
      }
    } catch {
      // A failed poll is retried on the next tick; waiters time out on their own deadline.
    } finally {
      polling = false;
    }
  };
  const ensureRunning = () => {
    if (!timer) {
      timer = setInterval(() => void poll(), pollingMs);
      timer.unref();
      void poll();
    }
  };

  return {
    async next(seen, deadline) {
      ensureRunning();
      if (head > seen) return head;
      await new Promise<void>((resolve) => {
        const done = () => {
          waiters.delete(done);
          clearTimeout(t);
          resolve();
        };
        const t = setTimeout(done, Math.max(0, deadline - Date.now()));
        waiters.add(done);
      });
      return head;
    },
    stop() {
      clearInterval(timer);
      timer = undefined;
      // Wake every waiter so jobs notice the shutdown instead of sleeping it out.
      for (const w of [...waiters]) w();
    },
  };
}
