// The settlement state machine's storage. Every transition is a compare-and-set on
// (state, version) that appends an event and notifies waiters in the same transaction, so a
// stale worker loses its race instead of overwriting progress.
import { and, eq, gt, isNull, sql, TransactionRollbackError } from "drizzle-orm";
import type { Db } from "./client.js";
import { guardDb } from "./ledger.js";
import { lockLane } from "./relayer-lanes.js";
import { eventFor, writeEvent } from "../webhooks/outbox.js";
import { relayerNonces, settlementEvents, settlements, settlementTxs, type PaymentKey, type SettlementState } from "./schema.js";

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

/** The compare-and-set itself; undefined when the row is no longer at (from, version). */
async function compareAndSet(tx: Tx, t: Transition): Promise<SettlementRow | undefined> {
  const [row] = await tx
    .update(settlements)
    .set({ ...t.patch, state: t.to, version: sql`${settlements.version} + 1`, updatedAt: new Date() })
    .where(and(eq(settlements.id, t.id), eq(settlements.state, t.from), eq(settlements.version, t.version)))
    .returning();
  return row;
}

/** The event row and the wake-up for waiters (delivered at commit). */
async function recordEvent(tx: Tx, t: Transition, version: number): Promise<void> {
  await tx
    .insert(settlementEvents)
    .values({ settlementId: t.id, fromState: t.from, toState: t.to, version, txHash: t.txHash, detail: t.detail });
  await tx.execute(sql`select pg_notify(${NOTIFY_CHANNEL}, ${t.id})`);
}

async function applyTransition(tx: Tx, t: Transition): Promise<SettlementRow | undefined> {
  const row = await compareAndSet(tx, t);
  if (!row) return undefined;
  await recordEvent(tx, t, row.version);
  // Webhooks owed for this move are committed with it, or not at all.
  const event = eventFor(t.from, t.to);
  if (event) await writeEvent(tx, row, event);
  return row;
}

const txValues = (signed: SignedTx, settlementId: string, relayer: { chainId: number; address: string; nonce: bigint }) => ({
  hash: signed.hash,
  settlementId,
  kind: "transfer" as const,
  chainId: relayer.chainId,
  relayerAddress: relayer.address,
  relayerNonce: relayer.nonce,
  rawTx: signed.raw,
  maxFeePerGas: signed.maxFeePerGas.toString(),
  maxPriorityFeePerGas: signed.maxPriorityFeePerGas.toString(),
  gasLimit: signed.gas.toString(),
});

export interface SignedTx {
  hash: string;
  raw: string;
  maxFeePerGas: bigint;
  maxPriorityFeePerGas: bigint;
  gas: bigint;
}

export function createSettlementsRepo(db: Db) {
  const byKey = (k: PaymentKey) => and(eq(settlements.chainId, k.chainId), eq(settlements.paymentKey, k.key));

  return {
    /** Inserts the row unless the authorization is already claimed; undefined means someone else holds it. */
    async claim(values: NewSettlement): Promise<SettlementRow | undefined> {
      return guardDb("claim", () =>
        db.transaction(async (tx) => {
          const [row] = await tx.insert(settlements).values(values).onConflictDoNothing().returning();
          if (!row) return undefined;
          await tx.insert(settlementEvents).values({ settlementId: row.id, fromState: null, toState: row.state, version: row.version });
          // A row may be born final (an upto charge of 0 is confirmed as it is claimed).
          const event = eventFor(null, row.state);
          if (event) await writeEvent(tx, row, event);
          await tx.execute(sql`select pg_notify(${NOTIFY_CHANNEL}, ${row.id})`);
          return row;
        }),
      );
    },

    async findByKey(key: PaymentKey): Promise<SettlementRow | undefined> {
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
     * never handed out twice. The first member leads: if it moved on, nothing is allocated. Other
     * members (a batch) that moved on are left out, and `sign` is told who is in.
     */
    async allocateSignAndStore(
      members: Omit<Transition, "to" | "txHash">[],
      relayer: { chainId: number; address: string; owner: string },
      sign: (nonce: bigint, ids: string[]) => Promise<SignedTx>,
    ): Promise<{ rows: SettlementRow[]; tx: SignedTx; nonce: bigint } | undefined> {
      return guardDb("sign", () =>
        db.transaction(async (tx) => {
          const address = relayer.address.toLowerCase();
          // Without the lease (lost to another worker) nothing is signed with this key.
          const lane = await lockLane(tx, relayer.chainId, address, relayer.owner);
          if (!lane) return undefined;
          const nonce = lane.nextNonce;
          const moved: { t: Transition; row: SettlementRow }[] = [];
          for (const [i, m] of members.entries()) {
            const t: Transition = { ...m, to: "signed", patch: { ...m.patch, relayerAddress: address, relayerNonce: nonce } };
            const row = await compareAndSet(tx, t);
            if (row) moved.push({ t, row });
            else if (i === 0) tx.rollback(); // releases the nonce: nothing signed with it is stored or sent
          }
          const signed = await sign(
            nonce,
            moved.map((m) => m.row.id),
          );
          const rows: SettlementRow[] = [];
          for (const { t, row } of moved) {
            const [withTx] = await tx.update(settlements).set({ latestTx: signed.hash }).where(eq(settlements.id, row.id)).returning();
            await recordEvent(
              tx,
              {
                ...t,
                txHash: signed.hash,
                detail: {
                  relayerNonce: nonce.toString(),
                  maxFeePerGas: signed.maxFeePerGas.toString(),
                  gas: signed.gas.toString(),
                  batch: moved.length > 1 ? moved.length : undefined,
                },
              },
              row.version,
            );
            await tx.insert(settlementTxs).values(txValues(signed, row.id, { chainId: relayer.chainId, address, nonce }));
            rows.push(withTx!);
          }
          await tx
            .update(relayerNonces)
            .set({ nextNonce: nonce + 1n, updatedAt: new Date() })
            .where(and(eq(relayerNonces.chainId, relayer.chainId), eq(relayerNonces.address, address)));
          return { rows, tx: signed, nonce };
        }),
      ).catch((err: unknown) => {
        if (err instanceof TransactionRollbackError) return undefined;
        throw err;
      });
    },

    /**
     * Records a fee replacement (same nonce, higher fees) before it is broadcast, for every
     * settlement the replaced transaction carried: any of the stored hashes may be the one that
     * gets mined. Undefined (nothing stored) when one of them moved on or the lease is gone.
     */
    async storeReplacement(
      rows: SettlementRow[],
      relayer: { chainId: number; owner: string },
      signed: SignedTx,
      detail: Record<string, unknown>,
    ): Promise<SettlementRow[] | undefined> {
      const lead = rows[0]!;
      return guardDb("replace", () =>
        db.transaction(async (tx) => {
          if (!(await lockLane(tx, relayer.chainId, lead.relayerAddress!, relayer.owner))) return undefined;
          const next: SettlementRow[] = [];
          for (const row of rows) {
            const moved = await applyTransition(tx, {
              id: row.id,
              from: row.state,
              version: row.version,
              to: row.state,
              patch: { latestTx: signed.hash },
              txHash: signed.hash,
              detail,
            });
            if (!moved) tx.rollback();
            await tx
              .insert(settlementTxs)
              .values(txValues(signed, row.id, { chainId: relayer.chainId, address: row.relayerAddress!, nonce: row.relayerNonce! }));
            next.push(moved!);
          }
          return next;
        }),
      ).catch((err: unknown) => {
        if (err instanceof TransactionRollbackError) return undefined;
        throw err;
      });
    },

    /** Settlements carried by the transaction `hash`, as they are now. */
    async carriedBy(hash: string): Promise<SettlementRow[]> {
      return guardDb("carried by", () =>
        db
          .select()
          .from(settlements)
          .where(
            sql`${settlements.id} in (select ${settlementTxs.settlementId} from ${settlementTxs} where ${settlementTxs.hash} = ${hash})`,
          )
          .orderBy(settlements.createdAt),
      );
    },

    /** Claimed rows of a chain waiting to be sent, oldest first: candidates to share a batch. */
    async batchCandidates(chainId: number, excludeId: string, limit: number): Promise<SettlementRow[]> {
      return guardDb("batch candidates", () =>
        db
          .select()
          .from(settlements)
          .where(
            and(
              eq(settlements.chainId, chainId),
              sql`${settlements.state} in ('received','queued')`,
              sql`${settlements.id} <> ${excludeId}`,
            ),
          )
          .orderBy(settlements.createdAt)
          .limit(limit),
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
