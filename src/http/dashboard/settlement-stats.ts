// Settlement outcomes over a recent window, and the backlog: jobs in the queue and the oldest
// settlement still in progress. Windows count settlements by when they were claimed, like
// GET /settlements?since=, so an operator can list the rows behind any number.
import type { z } from "zod";
import { STATS_WINDOWS, type statsSchema } from "../openapi/resources.js";
import { asc, gte, sql } from "drizzle-orm";
import type { Db } from "../../db/client.js";
import { guardDb } from "../../db/ledger.js";
import { SETTLEMENT_STATES, settlements, TERMINAL_STATES, type SettlementState } from "../../db/schema.js";

export { STATS_WINDOWS };
export type StatsWindow = (typeof STATS_WINDOWS)[number];
const WINDOW_MS: Record<StatsWindow, number> = { "1h": 3600_000, "24h": 24 * 3600_000 };

/** Final states other than confirmed: the payment did not happen. */
export const FAILURE_STATES: ReadonlySet<SettlementState> = new Set(["failed", "rejected", "expired", "canceled"]);

/** Redis may be gone while the page is read: the queue's answer is not waited on longer than this. */
const QUEUE_TIMEOUT_MS = 2_000;

/** GET /stats is one window's outcomes and the backlog, typed by the schema it documents. */
type Stats = z.infer<typeof statsSchema>;
export type Outcomes = Pick<Stats, "window" | "since" | "total" | "succeeded" | "failed" | "byState" | "failures">;
export type Backlog = Pick<Stats, "queue" | "oldestOpen">;

export interface SettlementStatsDeps {
  db: Db;
  queueCounts(): Promise<Record<string, number>>;
}

// The literal list matches the partial index settlements_open_idx (migrations/0001).
const OPEN = sql.raw(`state NOT IN (${[...TERMINAL_STATES].map((s) => `'${s}'`).join(", ")})`);

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

export function settlementStatsReader(deps: SettlementStatsDeps) {
  const { db } = deps;
  return {
    async outcomes(window: StatsWindow, now = Date.now()): Promise<Outcomes> {
      const since = new Date(now - WINDOW_MS[window]);
      const rows = await guardDb("settlement outcomes", () =>
        db
          .select({ state: settlements.state, reason: settlements.errorReason, count: sql<number>`count(*)::int` })
          .from(settlements)
          .where(gte(settlements.createdAt, since))
          .groupBy(settlements.state, settlements.errorReason),
      );
      const byState = Object.fromEntries(SETTLEMENT_STATES.map((s) => [s, 0])) as Record<SettlementState, number>;
      for (const r of rows) byState[r.state] += r.count;
      const failures = rows
        .filter((r) => FAILURE_STATES.has(r.state))
        .map((r) => ({ state: r.state, reason: r.reason, count: r.count }))
        .sort((a, b) => b.count - a.count);
      return {
        window,
        since: since.toISOString(),
        total: rows.reduce((n, r) => n + r.count, 0),
        succeeded: byState.confirmed,
        failed: failures.reduce((n, r) => n + r.count, 0),
        byState,
        failures,
      };
    },

    async backlog(now = Date.now()): Promise<Backlog> {
      const [jobs, oldest] = await Promise.all([
        within(deps.queueCounts(), QUEUE_TIMEOUT_MS, "the queue").then(
          (counts) => ({ jobs: counts, error: null }),
          (err: Error) => ({ jobs: null, error: err.message }),
        ),
        guardDb("oldest open settlement", () =>
          db
            .select({ id: settlements.id, state: settlements.state, createdAt: settlements.createdAt })
            .from(settlements)
            .where(OPEN)
            .orderBy(asc(settlements.createdAt))
            .limit(1),
        ),
      ]);
      const row = oldest[0];
      return {
        queue: jobs,
        oldestOpen: row
          ? {
              id: row.id,
              state: row.state,
              since: row.createdAt.toISOString(),
              ageSeconds: Math.max(0, Math.round((now - row.createdAt.getTime()) / 1000)),
            }
          : null,
      };
    },
  };
}
