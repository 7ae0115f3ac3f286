// The api's metrics: verify and settle outcomes and latencies, and, read when scraped, the ledger
// by state, the oldest settlement still in progress and the queue's depth. Labels come from a
// closed set (enabled networks, known schemes, our own reason words): never the payer, nonce or
// hash, and never a string a client made up.
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { formatEther } from "viem";
import type { NetworkLookup } from "../config/config.js";
import { SETTLEMENT_STATES, type SettlementState } from "../db/schema.js";

export interface ApiMetricsDeps {
  networks: NetworkLookup;
  schemes: readonly string[];
  stateCounts(): Promise<{ state: SettlementState; count: number }[]>;
  oldestOpenSince(): Promise<Date | undefined>;
  queueCounts(): Promise<Record<string, number>>;
  oldestUndeliveredSince(): Promise<Date | undefined>;
  /** Wei each API key spent on gas today (UTC). */
  keyGasToday?(): Promise<Map<string, bigint>>;
}

export interface Outcome {
  /** The network as the request named it (mapped to an enabled one or "unknown"). */
  network: unknown;
  scheme: unknown;
  result: "valid" | "invalid" | "success" | "failure" | "pending" | "bad_request" | "error";
  reason?: string;
  seconds: number;
}

/**
 * A scrape must answer while Postgres or Redis is away (that is when it matters most): a gauge
 * whose source cannot be read keeps its last value, and the error metrics of the outage tell why.
 */
const quietly = <T>(read: Promise<T>): Promise<T | null> => read.catch(() => null);

/** Reasons are words of ours (snake case, short); anything else is folded into "other". */
const reasonLabel = (r: string | undefined) => (!r ? "" : /^[a-z0-9_]{1,64}$/.test(r) ? r : "other");

export function apiMetrics(registry: Registry, deps: ApiMetricsDeps) {
  const networkLabel = (n: unknown) => {
    if (typeof n !== "string") return "unknown";
    const net = deps.networks.byCaip2(n) ?? deps.networks.byV1Name(n);
    return net ? net.caip2 : "unknown";
  };
  const schemeLabel = (s: unknown) => (typeof s === "string" && deps.schemes.includes(s) ? s : "other");
  const labels = ["network", "scheme", "result", "reason"] as const;
  const verifyTotal = new Counter({ name: "x402_verify_total", help: "/verify answers", labelNames: labels, registers: [registry] });
  const settleTotal = new Counter({ name: "x402_settle_total", help: "/settle answers", labelNames: labels, registers: [registry] });
  const verifySeconds = new Histogram({
    name: "x402_verify_duration_seconds",
    help: "Time to answer /verify",
    labelNames: ["scheme"],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const settleSeconds = new Histogram({
    name: "x402_settle_duration_seconds",
    help: "Time to answer /settle (it waits for the receipt, within SETTLE_WAIT_MS)",
    labelNames: ["scheme"],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120],
    registers: [registry],
  });
  new Gauge({
    name: "x402_settlements",
    help: "Settlements in the ledger by state",
    labelNames: ["state"],
    registers: [registry],
    async collect() {
      const rows = await quietly(deps.stateCounts());
      if (!rows) return;
      const counts = new Map(rows.map((r) => [r.state, r.count]));
      for (const state of SETTLEMENT_STATES) this.set({ state }, counts.get(state) ?? 0);
    },
  });
  new Gauge({
    name: "x402_oldest_open_settlement_age_seconds",
    help: "Age of the oldest settlement not yet in a final state (0 when none is open)",
    registers: [registry],
    async collect() {
      const since = await quietly(deps.oldestOpenSince());
      if (since !== null) this.set(since ? Math.max(0, (Date.now() - since.getTime()) / 1000) : 0);
    },
  });
  new Gauge({
    name: "x402_webhook_oldest_undelivered_age_seconds",
    help: "Age of the oldest webhook delivery still owed (0 when none is)",
    registers: [registry],
    async collect() {
      const since = await quietly(deps.oldestUndeliveredSince());
      if (since !== null) this.set(since ? Math.max(0, (Date.now() - since.getTime()) / 1000) : 0);
    },
  });
  new Gauge({
    name: "x402_api_key_gas_spent_today_eth",
    help: "Gas each API key has spent since 00:00 UTC, from receipts, in ETH units (its budget's state)",
    labelNames: ["key"],
    registers: [registry],
    async collect() {
      const spent = deps.keyGasToday && (await quietly(deps.keyGasToday()));
      for (const [key, wei] of spent ?? []) this.set({ key }, Number(formatEther(wei)));
    },
  });
  new Gauge({
    name: "x402_queue_jobs",
    help: "Settlement jobs in the queue by BullMQ state",
    labelNames: ["state"],
    registers: [registry],
    async collect() {
      for (const [state, n] of Object.entries((await quietly(deps.queueCounts())) ?? {})) this.set({ state }, n);
    },
  });

  const record = (counter: Counter<(typeof labels)[number]>, histogram: Histogram<"scheme">, o: Outcome) => {
    const scheme = schemeLabel(o.scheme);
    counter.inc({ network: networkLabel(o.network), scheme, result: o.result, reason: reasonLabel(o.reason) });
    histogram.observe({ scheme }, o.seconds);
  };
  return {
    verified: (o: Outcome) => record(verifyTotal, verifySeconds, o),
    settled: (o: Outcome) => record(settleTotal, settleSeconds, o),
  };
}

export type ApiMetrics = ReturnType<typeof apiMetrics>;

/** Times one /verify or /settle from now: the returned function records it under the body's network and scheme. */
export function timeRequest(record: ((o: Outcome) => void) | undefined, body: unknown) {
  const began = performance.now();
  const requirements = (body as { paymentRequirements?: { network?: unknown; scheme?: unknown } } | null)?.paymentRequirements;
  return (result: Outcome["result"], reason?: string) =>
    record?.({ network: requirements?.network, scheme: requirements?.scheme, result, reason, seconds: (performance.now() - began) / 1000 });
}
