// Lets /settle wait for a row to change without polling: the worker's transitions NOTIFY on
// commit and one LISTEN connection per api process wakes the waiting requests. A slow re-read
// covers a notification lost while that connection reconnects.
import type { Sql } from "postgres";
import { NOTIFY_CHANNEL } from "../db/settlements-repo.js";

const SAFETY_REREAD_MS = 2_000;

export interface SettlementWaiter {
  waitFor<T>(id: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number): Promise<T>;
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
    async waitFor(id, read, done, timeoutMs) {
      await listen();
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        let wake!: () => void;
        const woken = new Promise<void>((resolve) => (wake = resolve));
        const set = wakers.get(id) ?? new Set();
        set.add(wake);
        wakers.set(id, set);
        try {
          const value = await read();
          const left = deadline - Date.now();
          if (done(value) || left <= 0) return value;
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([woken, new Promise((r) => (timer = setTimeout(r, Math.min(left, SAFETY_REREAD_MS))))]);
          clearTimeout(timer);
        } finally {
          set.delete(wake);
          if (set.size === 0) wakers.delete(id);
        }
      }
    },
  };
}
