// Read-only queries behind the operator API.
import { and, desc, eq, gte, lt, or, sql, type SQL } from "drizzle-orm";
import type { Db } from "./client.js";
import { guardDb } from "./ledger.js";
import { settlementEvents, settlements, settlementTxs, type SettlementState } from "./schema.js";
import type { SettlementRow } from "./settlements-repo.js";

export interface SettlementFilter {
  payer?: string;
  payTo?: string;
  apiKeyId?: string;
  chainId?: number;
  state?: SettlementState;
  since?: Date;
  until?: Date;
  limit: number;
  after?: { createdAt: Date; id: string };
}

export function createSettlementQueries(db: Db) {
  return {
    async list(f: SettlementFilter): Promise<SettlementRow[]> {
      const where: SQL[] = [];
      if (f.payer) where.push(eq(settlements.payer, f.payer));
      if (f.payTo) where.push(eq(settlements.payTo, f.payTo));
      if (f.apiKeyId) where.push(eq(settlements.apiKeyId, f.apiKeyId));
      if (f.chainId !== undefined) where.push(eq(settlements.chainId, f.chainId));
      if (f.state) where.push(eq(settlements.state, f.state));
      if (f.since) where.push(gte(settlements.createdAt, f.since));
      if (f.until) where.push(lt(settlements.createdAt, f.until));
      // Keyset pagination on (created_at, id), newest first: stable while rows are added.
      if (f.after)
        where.push(
          or(
            lt(settlements.createdAt, f.after.createdAt),
            and(eq(settlements.createdAt, f.after.createdAt), lt(settlements.id, f.after.id)),
          )!,
        );
      return guardDb("list settlements", () =>
        db
          .select()
          .from(settlements)
          .where(and(...where))
          .orderBy(desc(settlements.createdAt), desc(settlements.id))
          .limit(f.limit),
      );
    },

    async byId(id: string) {
      const [row] = await guardDb("settlement", () => db.select().from(settlements).where(eq(settlements.id, id)));
      return row;
    },

    async byTxHash(hash: string) {
      const [row] = await guardDb("settlement by tx", () =>
        db
          .select({ id: settlements.id })
          .from(settlements)
          .where(
            or(
              eq(settlements.settledTx, hash),
              // A Solana settlement has one transaction, named by its signature before it is sent.
              eq(settlements.latestTx, hash),
              sql`exists (select 1 from ${settlementTxs} where ${settlementTxs.hash} = ${hash} and ${settlementTxs.settlementId} = ${settlements.id})`,
            ),
          )
          .limit(1),
      );
      return row?.id;
    },

    async byAuthorization(chainId: number, payer: string, nonce: string) {
      return guardDb("settlement by authorization", () =>
        db
          .select()
          .from(settlements)
          .where(and(eq(settlements.chainId, chainId), eq(settlements.payer, payer), eq(settlements.nonce, nonce))),
      );
    },

    /** Settlements per state (metrics). */
    async stateCounts(): Promise<{ state: SettlementState; count: number }[]> {
      const rows = await guardDb("state counts", () =>
        db
          .select({ state: settlements.state, count: sql<number>`count(*)::int` })
          .from(settlements)
          .groupBy(settlements.state),
      );
      return rows;
    },

    /** When the oldest settlement still in progress was claimed (metrics), if any is. */
    async oldestOpenSince(): Promise<Date | undefined> {
      const [row] = await guardDb("oldest open settlement", () =>
        db
          .select({ at: sql<Date | null>`min(${settlements.createdAt})` })
          .from(settlements)
          .where(sql`${settlements.state} not in ('confirmed','failed','rejected','expired','canceled')`),
      );
      return row?.at ? new Date(row.at) : undefined;
    },

    async history(id: string) {
      return guardDb("settlement history", () =>
        Promise.all([
          db.select().from(settlementEvents).where(eq(settlementEvents.settlementId, id)).orderBy(settlementEvents.id),
          db.select().from(settlementTxs).where(eq(settlementTxs.settlementId, id)).orderBy(settlementTxs.createdAt),
        ]),
      );
    },
  };
}

export type SettlementQueries = ReturnType<typeof createSettlementQueries>;
