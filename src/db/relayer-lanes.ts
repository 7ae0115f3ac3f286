// Relayer lanes: one per (chain, relayer address), holding the next nonce and a lease. Only
// the worker holding a lane's lease signs with that key on that chain, so several worker
// processes can share keys without ever racing on a nonce.
import { and, eq, gt, inArray, isNull, lt, or, sql } from "drizzle-orm";
import type { Db } from "./client.js";
import { guardDb } from "./ledger.js";
import { relayerNonces, settlements, settlementTxs, workers } from "./schema.js";
import { storedTxColumns } from "./stored-txs.js";

type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];
export type LaneRow = typeof relayerNonces.$inferSelect;

/** Locks the lane for this transaction and checks the caller still holds its lease. */
export async function lockLane(tx: Tx, chainId: number, address: string, owner: string): Promise<LaneRow | undefined> {
  const [lane] = await tx
    .select()
    .from(relayerNonces)
    .where(and(eq(relayerNonces.chainId, chainId), eq(relayerNonces.address, address.toLowerCase())))
    .for("update");
  if (!lane || lane.leaseOwner !== owner || !lane.leaseExpiresAt || lane.leaseExpiresAt.getTime() <= Date.now()) return undefined;
  return lane;
}

export function createRelayerLanes(db: Db) {
  const lane = (chainId: number, address: string) =>
    and(eq(relayerNonces.chainId, chainId), eq(relayerNonces.address, address.toLowerCase()));
  return {
    /** Lanes start no lower than the chain's nonce, and never move backwards. */
    async register(chainId: number, address: string, chainNonce: bigint): Promise<bigint> {
      const [row] = await guardDb("relayer registration", () =>
        db
          .insert(relayerNonces)
          .values({ chainId, address: address.toLowerCase(), nextNonce: chainNonce })
          .onConflictDoUpdate({
            target: [relayerNonces.chainId, relayerNonces.address],
            set: { nextNonce: sql`greatest(${relayerNonces.nextNonce}, ${chainNonce})`, updatedAt: new Date() },
          })
          .returning(),
      );
      return row!.nextNonce;
    },

    async heartbeat(owner: string): Promise<void> {
      await guardDb("heartbeat", () =>
        db
          .insert(workers)
          .values({ id: owner })
          .onConflictDoUpdate({ target: workers.id, set: { seenAt: new Date() } }),
      );
    },

    async liveWorkers(ttlMs: number): Promise<number> {
      const [row] = await guardDb("live workers", () =>
        db
          .select({ n: sql<number>`count(*)::int` })
          .from(workers)
          .where(gt(workers.seenAt, new Date(Date.now() - ttlMs))),
      );
      return row?.n ?? 0;
    },

    async leave(owner: string): Promise<void> {
      await guardDb("leave", async () => {
        await db.update(relayerNonces).set({ leaseOwner: null, leaseExpiresAt: null }).where(eq(relayerNonces.leaseOwner, owner));
        await db.delete(workers).where(eq(workers.id, owner));
      });
    },

    /** Takes or renews the lease when it is free, expired or already ours. */
    async acquire(chainId: number, address: string, owner: string, ttlMs: number): Promise<boolean> {
      const rows = await guardDb("lease", () =>
        db
          .update(relayerNonces)
          .set({ leaseOwner: owner, leaseExpiresAt: new Date(Date.now() + ttlMs) })
          .where(
            and(
              lane(chainId, address),
              or(isNull(relayerNonces.leaseOwner), eq(relayerNonces.leaseOwner, owner), lt(relayerNonces.leaseExpiresAt, new Date())),
            ),
          )
          .returning({ address: relayerNonces.address }),
      );
      return rows.length > 0;
    },

    async release(chainId: number, address: string, owner: string): Promise<void> {
      await guardDb("lease release", () =>
        db
          .update(relayerNonces)
          .set({ leaseOwner: null, leaseExpiresAt: null })
          .where(and(lane(chainId, address), eq(relayerNonces.leaseOwner, owner))),
      );
    },

    async get(chainId: number, address: string): Promise<LaneRow | undefined> {
      const [row] = await guardDb("lane", () => db.select().from(relayerNonces).where(lane(chainId, address)));
      return row;
    },

    /** Settlements signed but not yet mined, per relayer: the lane's load. */
    async inFlight(chainId: number): Promise<Map<string, number>> {
      const rows = await guardDb("in flight", () =>
        db
          .select({ address: settlements.relayerAddress, n: sql<number>`count(*)::int` })
          .from(settlements)
          .where(and(eq(settlements.chainId, chainId), inArray(settlements.state, ["signed", "submitted"])))
          .groupBy(settlements.relayerAddress),
      );
      return new Map(rows.filter((r) => r.address).map((r) => [r.address!, r.n]));
    },

    async txsAtNonce(chainId: number, address: string, nonce: bigint) {
      return guardDb("txs at nonce", () =>
        db
          .select(storedTxColumns)
          .from(settlementTxs)
          .where(
            and(
              eq(settlementTxs.chainId, chainId),
              eq(settlementTxs.relayerAddress, address.toLowerCase()),
              eq(settlementTxs.relayerNonce, nonce),
            ),
          )
          .orderBy(settlementTxs.createdAt),
      );
    },

    /** Records a filler signed for a nonce nobody else will fill, under the lane lock. */
    async storeFiller(
      chainId: number,
      address: string,
      owner: string,
      nonce: bigint,
      signed: { hash: string; raw: string; maxFeePerGas: bigint; maxPriorityFeePerGas: bigint; gas: bigint },
    ): Promise<boolean> {
      return guardDb("filler", () =>
        db.transaction(async (tx) => {
          if (!(await lockLane(tx, chainId, address, owner))) return false;
          await tx.insert(settlementTxs).values({
            hash: signed.hash,
            kind: "filler",
            chainId,
            relayerAddress: address.toLowerCase(),
            relayerNonce: nonce,
            rawTx: signed.raw,
            maxFeePerGas: signed.maxFeePerGas.toString(),
            maxPriorityFeePerGas: signed.maxPriorityFeePerGas.toString(),
            gasLimit: signed.gas.toString(),
          });
          return true;
        }),
      );
    },
  };
}

export type RelayerLanes = ReturnType<typeof createRelayerLanes>;
