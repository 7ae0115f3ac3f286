// What the operator page shows beyond the settlement list, read in one place for both the page
// and the admin JSON routes (GET /relayers, /stats, /webhooks/failing-deliveries), so the page
// never shows what the API does not.
import type { PublicClient } from "viem";
import type { EnabledNetwork } from "../../config/config.js";
import type { Db } from "../../db/client.js";
import type { WebhookStore } from "../../webhooks/store.js";
import { relayerStatusReader } from "./relayer-status.js";
import { settlementStatsReader, type StatsWindow } from "./settlement-stats.js";
import { webhookStatusReader } from "./webhook-status.js";

export interface OperatorReadsDeps {
  db: Db;
  networks: readonly EnabledNetwork[];
  clientFor(chainId: number): PublicClient;
  /** BullMQ job counts by state; should fail fast when Redis is not connected. */
  queueCounts(): Promise<Record<string, number>>;
  webhooks?: WebhookStore;
}

export function createOperatorReads(deps: OperatorReadsDeps) {
  const stats = settlementStatsReader(deps);
  return {
    relayers: relayerStatusReader(deps),
    outcomes: stats.outcomes,
    backlog: stats.backlog,
    /** GET /stats: one window's outcomes and the backlog. */
    async stats(window: StatsWindow) {
      const [outcomes, backlog] = await Promise.all([stats.outcomes(window), stats.backlog()]);
      return { ...outcomes, ...backlog };
    },
    /** Undefined when the api manages no webhooks. */
    webhooks: deps.webhooks ? webhookStatusReader(deps.webhooks) : undefined,
  };
}

export type OperatorReads = ReturnType<typeof createOperatorReads>;
