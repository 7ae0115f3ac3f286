// Lets /settle wait for a row to change without polling: the worker's transitions NOTIFY on
// commit ("<id> <state>") and one LISTEN connection per api process wakes the waiting requests,
// only for the moves each waits for. A slow re-read of every waiting row at once covers a
// notification lost while that connection reconnects, and a database that stops answering
// mid-wait is read again until the deadline instead of failing the request at once.
import type { Sql } from "postgres";
import { NOTIFY_CHANNEL } from "../db/settlements-repo.js";
import { FacilitatorError } from "../errors.js";

const SAFETY_REREAD_MS = 2_000;
/** While reads fail (database restarting), how often to try again. */
const FAILED_REREAD_MS = 500;

export interface SettlementWaiter {
  /**
   * Re-reads the row whenever it changes until `done(value, elapsedMs)` holds or `timeoutMs`
   * passes. `wakeAtMs` are extra moments (since the start) at which `done` is asked again,
   * for conditions that depend on time as well as on the row. A read that fails because a
   * dependency is unavailable (a 503 error) is retried; if the last read before the deadline
   * failed, its error is thrown.
   */
  waitFor<T>(
    id: string,
    read: () => Promise<T>,
    done: (value: T, elapsedMs: number) => boolean,
    timeoutMs: number,
    wakeAtMs?: number[],
    /** Whether a move to `state` is worth a read now (default: every move). */
    wakeOn?: (state: string, elapsedMs: number) => boolean,
  ): Promise<T>;
  /** Shutdown: every wait reads once more and returns now; later waits do not wait. */
  drain(): void;
}

export function createSettlementWaiter(sql: Sql): SettlementWaiter {
  // A waker is called with the state moved to, or without one (the safety re-read, shutdown).
  const wakers = new Map<string, Set<(state?: string) => void>>();
  let draining = false;
  let listening: Promise<unknown> | undefined;
  let safety: NodeJS.Timeout | undefined;
  const wakeAll = () => {
    for (const set of wakers.values()) for (const wake of set) wake();
  };
  const listen = () =>
    (listening ??= sql
      .listen(NOTIFY_CHANNEL, (payload) => {
        const [id, state] = payload.split(" ");
        wakers.get(id!)?.forEach((wake) => wake(state));
      })
      .catch((err: unknown) => {
        listening = undefined;
        throw err;
      }));

  return {
    async waitFor<T>(
      id: string,
      read: () => Promise<T>,
      done: (value: T, elapsedMs: number) => boolean,
      timeoutMs: number,
      wakeAtMs: number[] = [],
      wakeOn: (state: string, elapsedMs: number) => boolean = () => true,
    ) {
      // Without LISTEN (database down) the re-reads below still see every change, only later.
      await listen().catch(() => undefined);
      const start = Date.now();
      const deadline = start + timeoutMs;
      // One timer re-reads every waiting row together (their reads coalesce), not one per wait.
      safety ??= setInterval(() => (wakers.size ? wakeAll() : (clearInterval(safety), (safety = undefined))), SAFETY_REREAD_MS);
      safety.unref();
      for (;;) {
        let wake!: (state?: string) => void;
        const woken = new Promise<void>((resolve) => {
          wake = (state) => {
            if (state === undefined || wakeOn(state, Date.now() - start)) resolve();
          };
        });
        const set = wakers.get(id) ?? new Set();
        set.add(wake);
        wakers.set(id, set);
        try {
          let value: T | undefined;
          let failure: unknown;
          try {
            value = await read();
          } catch (err) {
            // Only an unreachable dependency is worth waiting out; anything else answers now.
            if (!(err instanceof FacilitatorError && err.statusCode === 503)) throw err;
            failure = err;
          }
          const now = Date.now();
          const left = deadline - now;
          if (failure === undefined && (done(value as T, now - start) || left <= 0 || draining)) return value as T;
          if (failure !== undefined && (left <= 0 || draining)) throw failure;
          const nextWake = wakeAtMs.map((w) => start + w - now).filter((ms) => ms > 0);
          const pause = failure === undefined ? left : FAILED_REREAD_MS;
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([woken, new Promise((r) => (timer = setTimeout(r, Math.min(left, pause, ...nextWake))))]);
          clearTimeout(timer);
        } finally {
          set.delete(wake);
          if (set.size === 0) wakers.delete(id);
        }
      }
    },
    drain() {
      draining = true;
      wakeAll();
    },
  };
}
