// Lets /settle wait for a row to change without polling: the worker's transitions NOTIFY on
// commit and one LISTEN connection per api process wakes the waiting requests. A slow re-read
// covers a notification lost while that connection reconnects.
import type { Sql } from "postgres";
import { NOTIFY_CHANNEL } from "../db/settlements-repo.js";

const SAFETY_REREAD_MS = 2_000;

export interface SettlementWaiter {
  /**
   * Re-reads the row whenever it changes until `done(value, elapsedMs)` holds or `timeoutMs`
   * passes. `wakeAtMs` are extra moments (since the start) at which `done` is asked again,
   * for conditions that depend on time as well as on the row.
   */
  waitFor<T>(
    id: string,
    read: () => Promise<T>,
    done: (value: T, elapsedMs: number) => boolean,
    timeoutMs: number,
    wakeAtMs?: number[],
  ): Promise<T>;
}

export function createSettlementWaiter(sql: Sql): SettlementWaiter {
  const wakers = new Map<string, Set<() => void>>();
  let listening: Promise<unknown> | undefined;
  const listen = () =>
    (listening ??= sql
      .listen(NOTIFY_CHANNEL, (id) => wakers.get(id)?.forEach((wake) => wake()))
      .catch((err: unknown) => {
        listening = undefined;
        throw err;
      }));

  return {
    async waitFor(id, read, done, timeoutMs, wakeAtMs = []) {
      await listen();
      const start = Date.now();
      const deadline = start + timeoutMs;
      for (;;) {
        let wake!: () => void;
        const woken = new Promise<void>((resolve) => (wake = resolve));
        const set = wakers.get(id) ?? new Set();
        set.add(wake);
        wakers.set(id, set);
        try {
          const value = await read();
          const now = Date.now();
          const left = deadline - now;
          if (done(value, now - start) || left <= 0) return value;
          const nextWake = wakeAtMs.map((w) => start + w - now).filter((ms) => ms > 0);
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([woken, new Promise((r) => (timer = setTimeout(r, Math.min(left, SAFETY_REREAD_MS, ...nextWake))))]);
          clearTimeout(timer);
        } finally {
          set.delete(wake);
          if (set.size === 0) wakers.delete(id);
        }
      }
    },
  };
}
