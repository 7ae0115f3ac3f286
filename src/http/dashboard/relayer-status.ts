// Each relayer lane (a key on a network) as the operator sees it: gas balance, settlements in
// flight, and our next nonce against the chain's pending nonce. A lag above zero is transactions
// the node has not seen (dropped, or still on their way); below zero, someone else used the key.
import type { z } from "zod";
import type { relayerStatusSchema } from "../openapi/resources.js";
import { asc } from "drizzle-orm";
import { formatEther, type PublicClient } from "viem";
import type { EnabledNetwork } from "../../config/config.js";
import type { Db } from "../../db/client.js";
import { guardDb } from "../../db/ledger.js";
import { createRelayerLanes } from "../../db/relayer-lanes.js";
import { relayerNonces } from "../../db/schema.js";
import { scrubUrls } from "../../logger.js";

export interface RelayerStatusDeps {
  db: Db;
  networks: readonly EnabledNetwork[];
  clientFor(chainId: number): PublicClient;
}

/** Typed by the schema GET /relayers documents. */
export type RelayerStatus = z.infer<typeof relayerStatusSchema>;

export function relayerStatusReader(deps: RelayerStatusDeps): () => Promise<RelayerStatus[]> {
  const lanes = createRelayerLanes(deps.db);
  const enabled = new Map(deps.networks.map((n) => [n.chainId, n]));
  return async () => {
    const rows = await guardDb("relayer lanes", () =>
      deps.db.select().from(relayerNonces).orderBy(asc(relayerNonces.chainId), asc(relayerNonces.address)),
    );
    const open = rows.filter((r) => enabled.has(r.chainId));
    const chainIds = [...new Set(open.map((r) => r.chainId))];
    const inFlight = new Map(await Promise.all(chainIds.map(async (id) => [id, await lanes.inFlight(id)] as const)));
    return Promise.all(
      open.map(async (lane): Promise<RelayerStatus> => {
        const net = enabled.get(lane.chainId)!;
        const known = {
          network: net.caip2,
          networkName: net.name,
          address: lane.address,
          leased: !!lane.leaseOwner && !!lane.leaseExpiresAt && lane.leaseExpiresAt > new Date(),
          inFlight: inFlight.get(lane.chainId)?.get(lane.address) ?? 0,
          nextNonce: lane.nextNonce.toString(),
        };
        try {
          const client = deps.clientFor(lane.chainId);
          const address = lane.address as `0x${string}`;
          const [balance, pending] = await Promise.all([
            client.getBalance({ address }),
            client.getTransactionCount({ address, blockTag: "pending" }),
          ]);
          return {
            ...known,
            chainPendingNonce: String(pending),
            nonceLag: (lane.nextNonce - BigInt(pending)).toString(),
            balanceWei: balance.toString(),
            balanceEth: formatEther(balance),
            belowGasFloor: balance < net.minRelayerBalance,
            error: null,
          };
        } catch (err) {
          const why = scrubUrls(((err as Error).message ?? "").split("\n")[0] ?? "").slice(0, 200);
          return {
            ...known,
            chainPendingNonce: null,
            nonceLag: null,
            balanceWei: null,
            balanceEth: null,
            belowGasFloor: null,
            error: `chain not reachable: ${why}`,
          };
        }
      }),
    );
  };
}
