// The settlement state machine's storage. Every transition is a compare-and-set on
// (state, version) that appends an event and notifies waiters in the same transaction, so a
// stale worker loses its race instead of overwriting progress.
import { and, eq, gt, inArray, sql, TransactionRollbackError } from "drizzle-orm";
import type { Db } from "./client.js";
import { guardDb } from "./ledger.js";
import { lockLane } from "./relayer-lanes.js";
import { eventFor, writeEvent, writeEvents } from "../webhooks/outbox.js";
import { casMany } from "./cas-many.js";
import { insertSettlements } from "./insert-settlements.js";
import { oncePerHash, storedTxColumns } from "./stored-txs.js";
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

/**
 * Wake-ups for many rows in one statement (delivered at commit). The payload is "<id> <state>",
 * so a waiter can tell whether the move is one it waits for without reading the row.
 */
export async function notifyAll(tx: Tx, moves: { id: string; state: SettlementState }[]): Promise<void> {
  if (!moves.length) return;
  // Ids are uuids and states are words: the array literal needs no quoting.
  const payloads = `{${moves.map((m) => `"${m.id} ${m.state}"`).join(",")}}`;
  await tx.execute(sql`select pg_notify(${NOTIFY_CHANNEL}, x) from unnest(${payloads}::text[]) as x`);
}

/** Deadlocks are resolved by Postgres aborting one side; that side simply runs again. */
export async function retryOnDeadlock<T>(run: () => Promise<T>, attempts = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await run();
    } catch (err) {
      if (i >= attempts || (err as { code?: string }).code !== "40P01") throw err;
    }
  }
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

export type SignMember = Omit<Transition, "to" | "txHash">;
export interface SignItem {
  members: SignMember[];
  sign(nonce: bigint, ids: string[]): Promise<SignedTx>;
}
export interface SignedResult {
  rows: SettlementRow[];
  tx: SignedTx;
  nonce: bigint;
}

export interface SignedTx {
  hash: string;
  raw: string;
  maxFeePerGas: bigint;
  maxPriorityFeePerGas: bigint;
  gas: bigint;
}

export function createSettlementsRepo(db: Db) {
  // Each single operation is its batched form with one element: one implementation of each.
  const repo = {
    /** Inserts the row unless the authorization is already claimed; undefined means someone else holds it. */
    async claim(values: NewSettlement): Promise<SettlementRow | undefined> {
      return (await repo.claimMany([values]))[0];
    },

    /**
     * Claims in one transaction (undefined where the authorization is already held; a row may
     * be born final: an upto charge of 0 is confirmed as it is claimed). A row born `queued` (accepted and handed to the worker at
     * once) records the `received` step before it, as its history has always shown. Inserted in
     * key order, so concurrent batches never wait on each other's keys in a cycle.
     */
    async claimMany(values: NewSettlement[]): Promise<(SettlementRow | undefined)[]> {
      const keyOf = (v: { chainId: number; paymentKey: string }) => `${v.chainId}:${v.paymentKey}`;
      const sorted = [...values].sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0));
      return guardDb("claim", () =>
        retryOnDeadlock(() =>
          db.transaction(async (tx) => {
            const inserted = await insertSettlements(
              tx,
              sorted.map((v) => (v.state === "queued" ? { ...v, version: 1 } : v)),
            );
            if (inserted.length) {
              await Promise.all([
                tx.insert(settlementEvents).values(
                  inserted.flatMap((row) =>
                    row.state === "queued"
                      ? [
                          { settlementId: row.id, fromState: null, toState: "received", version: 0 },
                          { settlementId: row.id, fromState: "received", toState: "queued", version: 1 },
                        ]
                      : [{ settlementId: row.id, fromState: null, toState: row.state, version: row.version }],
                  ),
                ),
                notifyAll(
                  tx,
                  inserted.map((r) => ({ id: r.id, state: r.state })),
                ),
                // A row may be born final (an upto charge of 0 is confirmed as it is claimed).
                ...inserted.map((row) => {
                  const event = eventFor(null, row.state);
                  return event ? writeEvent(tx, row, event) : undefined;
                }),
              ]);
            }
            const byKey = new Map(inserted.map((r) => [keyOf(r), r]));
            const seen = new Set<string>();
            // Two claims of one authorization in the same batch: the first one given holds it.
            return values.map((v) => {
              const k = keyOf(v);
              if (seen.has(k)) return undefined;
              seen.add(k);
              return byKey.get(k);
            });
          }),
        ),
      );
    },

    /** Rows by payment key, in the order asked. */
    async findByKeys(keys: PaymentKey[]): Promise<(SettlementRow | undefined)[]> {
      const rows = await guardDb("settlement lookup", () =>
        db
          .select()
          .from(settlements)
          .where(
            and(
              inArray(settlements.chainId, [...new Set(keys.map((k) => k.chainId))]),
              inArray(settlements.paymentKey, [...new Set(keys.map((k) => k.key))]),
            ),
          ),
      );
      const byKey = new Map(rows.map((r) => [`${r.chainId}:${r.paymentKey}`, r]));
      return keys.map((k) => byKey.get(`${k.chainId}:${k.key}`));
    },

    /**
     * takeSuccessAnswer for many rows at once, in the order asked. The rows are locked in id
     * order, as the worker's batches lock them, so a batch of answers and a batch of transitions
     * never wait on each other in a cycle.
     */
    async takeSuccessAnswers(ids: string[]): Promise<boolean[]> {
      const unique = [...new Set(ids)];
      const rows = await guardDb("answer", () =>
        retryOnDeadlock(
          () =>
            db.execute(sql`
              UPDATE settlements SET success_answered_at = now()
              WHERE id IN (
                SELECT id FROM settlements
                WHERE id = ANY(${`{${unique.join(",")}}`}::uuid[]) AND success_answered_at IS NULL
                ORDER BY id FOR UPDATE
              ) AND success_answered_at IS NULL
              RETURNING id`) as Promise<unknown> as Promise<{ id: string }[]>,
        ),
      );
      const taken = new Set(rows.map((r) => r.id));
      // The same id asked twice in one batch: only the first asker hears yes.
      return ids.map((id) => taken.delete(id));
    },

    async findByKey(key: PaymentKey): Promise<SettlementRow | undefined> {
      return (await repo.findByKeys([key]))[0];
    },

    /** The payment a payer's own idempotency key (payment-identifier) names, if any. */
    async findByPaymentId(payer: string, paymentId: string): Promise<SettlementRow | undefined> {
      const [row] = await guardDb("settlement by payment id", () =>
        db
          .select()
          .from(settlements)
          .where(and(eq(settlements.payer, payer), eq(settlements.paymentId, paymentId))),
      );
      return row;
    },

    async findById(id: string): Promise<SettlementRow | undefined> {
      return (await repo.findMany([id]))[0];
    },

    /** Rows by id, in the order asked (undefined where there is none). */
    async findMany(ids: string[]): Promise<(SettlementRow | undefined)[]> {
      const rows = await guardDb("settlement lookup", () =>
        db
          .select()
          .from(settlements)
          .where(inArray(settlements.id, [...new Set(ids)])),
      );
      const byId = new Map(rows.map((r) => [r.id, r]));
      return ids.map((id) => byId.get(id));
    },

    async transition(t: Transition): Promise<SettlementRow | undefined> {
      return (await repo.transitionMany([t]))[0];
    },

    /**
     * Compare-and-set transitions in one transaction, each as it would be alone (a row that moved
     * on is undefined at its place), with their events, wake-ups and owed webhooks (cas-many.ts).
     */
    async transitionMany(ts: Transition[]): Promise<(SettlementRow | undefined)[]> {
      return guardDb("transition", () =>
        retryOnDeadlock(() =>
          db.transaction(async (tx) => {
            const rows = await casMany(tx, ts);
            await writeEvents(
              tx,
              ts.flatMap((t, i) => {
                const type = rows[i] && eventFor(t.from, t.to);
                return type ? [{ row: rows[i]!, type }] : [];
              }),
            );
            return rows;
          }),
        ),
      );
    },

    /** True for exactly one caller: the one that may report this settlement's success. */
    async takeSuccessAnswer(id: string): Promise<boolean> {
      return (await repo.takeSuccessAnswers([id]))[0]!;
    },

    async txsOf(id: string): Promise<SettlementTxRow[]> {
      return guardDb("tx lookup", () =>
        db.select(storedTxColumns).from(settlementTxs).where(eq(settlementTxs.settlementId, id)).orderBy(settlementTxs.createdAt),
      );
    },

    /**
     * Allocates the relayer's next nonces, signs with them and stores the signed transactions,
     * all in one database transaction: a nonce is never used without its raw tx being on record,
     * and is never handed out twice. Each item is one transaction to sign for its members (one
     * settlement, or a batch): members that moved on are left out and `sign` is told who is in;
     * an item none of whose members is still there gets no nonce (undefined at its place). Many
     * items share one lane lock and one commit, taking consecutive nonces in the order given.
     */
    async allocateSignAndStoreMany(
      items: SignItem[],
      relayer: { chainId: number; address: string; owner: string },
    ): Promise<(SignedResult | undefined)[]> {
      return guardDb("sign", () =>
        retryOnDeadlock(() =>
          db.transaction(async (tx) => {
            const address = relayer.address.toLowerCase();
            // Without the lease (lost to another worker) nothing is signed with this key.
            const lane = await lockLane(tx, relayer.chainId, address, relayer.owner);
            if (!lane) return items.map(() => undefined);
            const ids = [...new Set(items.flatMap((i) => i.members.map((m) => m.id)))].sort();
            // Locked in id order (as transitionMany locks): the compare half of compare-and-set.
            const current = await tx
              .select({ id: settlements.id, state: settlements.state, version: settlements.version })
              .from(settlements)
              .where(inArray(settlements.id, ids))
              .orderBy(settlements.id)
              .for("update");
            const now = new Map(current.map((r) => [r.id, r]));
            const taken = new Set<string>();
            const matches = (m: SignMember) => {
              const r = now.get(m.id);
              return !!r && r.state === m.from && r.version === m.version && !taken.has(m.id);
            };
            let nonce = lane.nextNonce;
            const signedItems: { at: number; nonce: bigint; members: SignMember[]; signed: SignedTx }[] = [];
            for (const [at, item] of items.entries()) {
              const members = item.members.filter(matches);
              if (!members.length) continue;
              members.forEach((m) => taken.add(m.id));
              const signed = await item.sign(
                nonce,
                members.map((m) => m.id),
              );
              signedItems.push({ at, nonce, members, signed });
              nonce++;
            }
            if (!signedItems.length) return items.map(() => undefined);
            const moves = signedItems.flatMap(({ nonce: n, members, signed }) =>
              members.map((m) => ({
                n,
                signed,
                batch: members.length,
                t: {
                  ...m,
                  to: "signed" as const,
                  patch: { ...m.patch, relayerAddress: address, relayerNonce: n, latestTx: signed.hash },
                },
              })),
            );
            const rows = await casMany(
              tx,
              moves.map((m) => ({
                ...m.t,
                txHash: m.signed.hash,
                detail: {
                  relayerNonce: m.n.toString(),
                  maxFeePerGas: m.signed.maxFeePerGas.toString(),
                  gas: m.signed.gas.toString(),
                  batch: m.batch > 1 ? m.batch : undefined,
                },
              })),
            );
            // Locked and checked above: a miss here would be a bug, and must not leave a gap.
            if (rows.some((r) => !r)) throw new Error("a locked settlement changed within its own transaction");
            await Promise.all([
              tx
                .insert(settlementTxs)
                .values(oncePerHash(moves.map((m) => txValues(m.signed, m.t.id, { chainId: relayer.chainId, address, nonce: m.n })))),
              tx
                .update(relayerNonces)
                .set({ nextNonce: nonce, updatedAt: new Date() })
                .where(and(eq(relayerNonces.chainId, relayer.chainId), eq(relayerNonces.address, address))),
            ]);
            const rowOf = new Map(rows.map((r) => [r!.id, r!]));
            const out: (SignedResult | undefined)[] = items.map(() => undefined);
            for (const s of signedItems) out[s.at] = { rows: s.members.map((m) => rowOf.get(m.id)!), tx: s.signed, nonce: s.nonce };
            return out;
          }),
        ),
      );
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
          const moved = await casMany(
            tx,
            rows.map((row) => ({
              id: row.id,
              from: row.state,
              version: row.version,
              to: row.state,
              patch: { latestTx: signed.hash },
              txHash: signed.hash,
              detail,
            })),
          );
          if (moved.some((r) => !r)) tx.rollback();
          await tx
            .insert(settlementTxs)
            .values(
              oncePerHash(
                rows.map((row) =>
                  txValues(signed, row.id, { chainId: relayer.chainId, address: row.relayerAddress!, nonce: row.relayerNonce! }),
                ),
              ),
            );
          const next = moved as SettlementRow[];
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
  return repo;
}

export type SettlementsRepo = ReturnType<typeof createSettlementsRepo>;
