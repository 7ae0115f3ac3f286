// Where a settlement run's time went: CPU per process (ours, anvil, Postgres, Redis, the load
// generator) from /proc, and each settlement's time per stage from its ledger events (received →
// queued on the api, queued → signed, signed → submitted, submitted → mined, mined → confirmed on
// the worker, confirmed → answered back on the api).
import { readdirSync, readFileSync } from "node:fs";
import postgres from "postgres";

const CLOCK_TICKS = 100;

/** CPU ms used so far by every process whose command name matches, summed per name. */
export function cpuByCommand(names: string[]): Record<string, number> {
  const out: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]));
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const name = names.find((n) => comm.startsWith(n));
      if (!name) continue;
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      out[name]! += ((Number(f[11]) + Number(f[12])) * 1000) / CLOCK_TICKS;
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

export interface StageTimes {
  stage: string;
  count: number;
  p50Ms: number;
  p99Ms: number;
}

/** Per stage p50/p99 over the settlements claimed since `since`. */
export async function stageTimes(databaseUrl: string, since: Date): Promise<StageTimes[]> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => undefined });
  try {
    const rows = await sql<{ stage: string; count: number; p50: number; p99: number }[]>`
      with steps as (
        select coalesce(e.from_state, 'claim') || ' → ' || e.to_state as stage,
               extract(epoch from e.created_at - lag(e.created_at) over (partition by e.settlement_id order by e.id)) * 1000 as ms,
               e.id
        from settlement_events e join settlements s on s.id = e.settlement_id
        where s.created_at >= ${since}
        union all
        select 'confirmed → answered', extract(epoch from s.success_answered_at - s.updated_at) * 1000, 0
        from settlements s where s.created_at >= ${since} and s.state = 'confirmed' and s.success_answered_at is not null
      )
      select stage, count(*)::int as count,
             percentile_cont(0.5) within group (order by ms) as p50,
             percentile_cont(0.99) within group (order by ms) as p99
      from steps where ms is not null group by stage order by min(id)`;
    return rows.map((r) => ({ stage: r.stage, count: r.count, p50Ms: Number(r.p50), p99Ms: Number(r.p99) }));
  } finally {
    await sql.end();
  }
}
