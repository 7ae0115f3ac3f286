// The settlement state machine's storage. Every transition is a compare-and-set on
// (state, version) that appends an event and notifies waiters in the same transaction, so a
// stale worker loses its race instead of overwriting progress.
import { and, eq, gt, isNull, sql, TransactionRollbackError } from "drizzle-orm";
import type { AuthorizationKey } from "../verify/intent.js";
import type { Db } from "./client.js";
import { guardDb } from "./ledger.js";
import { lockLane } from "./relayer-lanes.js";
import { relayerNonces, settlementEvents, settlements, settlementTxs, type SettlementState } from "./schema.js";

export type SettlementRow = typeof settlements.$inferSelect;
export type NewSettlement = typeof settlements.$inferInsert;
export type SettlementTxRow = typeof settlementTxs.$inferSelect;
type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];

export const NOTIFY_CHANNEL = "settlement_changed";

export interface Transition {
  id: string;
  from: SettlementState;
  version: number;
  to: SettlementState;
  patch?: Partial<Omit<NewSettlement, "id" | "state" | "version">>;
  txHash?: string;
  detail?: Record<string, unknown>;
}

async function applyTransition(tx: Tx, t: Transition): Promise<SettlementRow | undefined> {
  const [row] = await tx
    .update(settlements)
    .set({ ...t.patch, state: t.to, version: sql`${settlements.version} + 1`, updatedAt: new Date() })
    .where(and(eq(settlements.id, t.id), eq(settlements.state, t.from), eq(settlements.version, t.version)))
    .returning();
  if (!row) return undefined;
  await tx
    .insert(settlementEvents)
    .values({ settlementId: t.id, fromState: t.from, toState: t.to, version: row.version, txHash: t.txHash, detail: t.detail });
  await tx.execute(sql`select pg_notify(${NOTIFY_CHANNEL}, ${t.id})`);
  return row;
}

export interface SignedTx {
  hash: string;
  raw: string;
  maxFeePerGas: bigint;
  maxPriorityFeePerGas: bigint;
  gas: bigint;
}

export function createSettlementsRepo(db: Db) {
  const byKey = (k: AuthorizationKey) =>
    and(eq(settlements.chainId, k.chainId), eq(settlements.asset, k.asset), eq(settlements.payer, k.payer), eq(settlements.nonce, k.nonce));

  return {
    /** Inserts the row unless the authorization is already claimed; undefined means someone else holds it. */
    async claim(values: NewSettlement): Promise<SettlementRow | undefined> {
      return guardDb("claim", () =>
        db.transaction(async (tx) => {
          const [row] = await tx.insert(settlements).values(values).onConflictDoNothing().returning();
          if (!row) return undefined;
          await tx.insert(settlementEvents).values({ settlementId: row.id, fromState: null, toState: row.state, version: row.version });
          await tx.execute(sql`select pg_notify(${NOTIFY_CHANNEL}, ${row.id})`);
          return row;
        }),
      );
    },

    async findByKey(key: AuthorizationKey): Promise<SettlementRow | undefined> {
      const [row] = await guardDb("settlement lookup", () => db.select().from(settlements).where(byKey(key)).limit(1));
      return row;
    },

    async findById(id: string): Promise<SettlementRow | undefined> {
      const [row] = await guardDb("settlement lookup", () => db.select().from(settlements).where(eq(settlements.id, id)).limit(1));
      return row;
    },

    async transition(t: Transition): Promise<SettlementRow | undefined> {
      return guardDb("transition", () => db.transaction((tx) => applyTransition(tx, t)));
    },

    /** True for exactly one caller: the one that may report this settlement's success. */
    async takeSuccessAnswer(id: string): Promise<boolean> {
      const rows = await guardDb("answer", () =>
        db
          .update(settlements)
          .set({ successAnsweredAt: new Date() })
          .where(and(eq(settlements.id, id), isNull(settlements.successAnsweredAt)))
          .returning({ id: settlements.id }),
      );
      return rows.length > 0;
    },

    async txsOf(id: string): Promise<SettlementTxRow[]> {
      return guardDb("tx lookup", () =>
        db.select().from(settlementTxs).where(eq(settlementTxs.settlementId, id)).orderBy(settlementTxs.createdAt),
      );
    },

    /**
     * Allocates the relayer's next nonce, signs with it and stores the signed transaction, all in
     * one database transaction: a nonce is never used without its raw tx being on record, and is
     * never handed out twice. Returns undefined (and allocates nothing) if the row moved on.
     */
    async allocateSignAndStore(
      t: Omit<Transition, "to" | "txHash">,
      relayer: { chainId: number; address: string; owner: string },
      sign: (nonce: bigint) => Promise<SignedTx>,
    ): Promise<{ row: SettlementRow; tx: SignedTx; nonce: bigint } | undefined> {
      return guardDb("sign", () =>
        db.transaction(async (tx) => {
          const address = relayer.address.toLowerCase();
          // Without the lease (lost to another worker) nothing is signed with this key.
          const lane = await lockLane(tx, relayer.chainId, address, relayer.owner);
          if (!lane) return undefined;
          const nonce = lane.nextNonce;
          const signed = await sign(nonce);
          const row = await applyTransition(tx, {
            ...t,
            to: "signed",
            patch: { ...t.patch, relayerAddress: address, relayerNonce: nonce, latestTx: signed.hash },
            txHash: signed.hash,
            detail: { relayerNonce: nonce.toString(), maxFeePerGas: signed.maxFeePerGas.toString(), gas: signed.gas.toString() },
          });
          if (!row) {
            // Rolling back releases the nonce: nothing signed with it is stored or sent.
            tx.rollback();
            return undefined;
          }
          await tx.insert(settlementTxs).values({
            hash: signed.hash,
            settlementId: t.id,
            kind: "transfer",
            chainId: relayer.chainId,
            relayerAddress: address,
            relayerNonce: nonce,
            rawTx: signed.raw,
            maxFeePerGas: signed.maxFeePerGas.toString(),
            maxPriorityFeePerGas: signed.maxPriorityFeePerGas.toString(),
            gasLimit: signed.gas.toString(),
          });
          await tx
            .update(relayerNonces)
            .set({ nextNonce: nonce + 1n, updatedAt: new Date() })
            .where(and(eq(relayerNonces.chainId, relayer.chainId), eq(relayerNonces.address, address)));
          return { row, tx: signed, nonce };
        }),
      ).catch((err: unknown) => {
        if (err instanceof TransactionRollbackError) return undefined;
        throw err;
      });
    },

    /**
     * Records a fee replacement (same nonce, higher fees) before it is broadcast: any of the
     * stored hashes may be the one that gets mined. Undefined when the row moved on or the
     * lease is gone.
     */
    async storeReplacement(
      row: SettlementRow,
      relayer: { chainId: number; owner: string },
      signed: SignedTx,
      detail: Record<string, unknown>,
    ): Promise<SettlementRow | undefined> {
      return guardDb("replace", () =>
        db.transaction(async (tx) => {
          if (!(await lockLane(tx, relayer.chainId, row.relayerAddress!, relayer.owner))) return undefined;
          const next = await applyTransition(tx, {
            id: row.id,
            from: row.state,
            version: row.version,
            to: row.state,
            patch: { latestTx: signed.hash },
            txHash: signed.hash,
            detail,
          });
          if (!next) return undefined;
          await tx.insert(settlementTxs).values({
            hash: signed.hash,
            settlementId: row.id,
            kind: "transfer",
            chainId: relayer.chainId,
            relayerAddress: row.relayerAddress!,
            relayerNonce: row.relayerNonce!,
            rawTx: signed.raw,
            maxFeePerGas: signed.maxFeePerGas.toString(),
            maxPriorityFeePerGas: signed.maxPriorityFeePerGas.toString(),
            gasLimit: signed.gas.toString(),
          });
          return next;
        }),
      );
    },

    /** Rows confirmed since `since`, for the post-confirmation reorg audit. */
    async listRecentlyConfirmed(since: Date, limit = 2_000): Promise<SettlementRow[]> {
      return guardDb("recently confirmed", () =>
        db
          .select()
          .from(settlements)
          .where(and(eq(settlements.state, "confirmed"), gt(settlements.updatedAt, since)))
          .orderBy(settlements.updatedAt)
          .limit(limit),
      );
    },

    /** Rows not in a terminal state, oldest first, for the reconciler. */
    async listOpen(limit = 500): Promise<Pick<SettlementRow, "id" | "state" | "updatedAt">[]> {
      return guardDb("open settlements", () =>
        db
          .select({ id: settlements.id, state: settlements.state, updatedAt: settlements.updatedAt })
          .from(settlements)
          .where(sql`${settlements.state} not in ('confirmed','failed','rejected','expired','canceled')`)
          .orderBy(settlements.updatedAt)
          .limit(limit),
      );
    },
  };
}

export type SettlementsRepo = ReturnType<typeof createSettlementsRepo>;
