// Which Solana fee payers the workers hold. A worker records its keys as it starts and keeps
// them fresh; the api reads them to advertise and to accept payments naming them. A key no
// worker has held for a day drops out.
import { and, gt, sql as dsql } from "drizzle-orm";
import type { Db } from "./client.js";
import { guardDb } from "./ledger.js";
import { svmFeePayers } from "./schema.js";

const FORGOTTEN_AFTER = dsql`now() - interval '1 day'`;

export function createFeePayerRegistry(db: Db) {
  return {
    async register(network: string, addresses: readonly string[]): Promise<void> {
      if (!addresses.length) return;
      await db
        .insert(svmFeePayers)
        .values(addresses.map((address) => ({ network, address })))
        .onConflictDoUpdate({ target: [svmFeePayers.network, svmFeePayers.address], set: { seenAt: dsql`now()` } });
    },
    async addresses(network?: string): Promise<string[]> {
      const rows = await guardDb("fee payer lookup", () =>
        db
          .selectDistinct({ address: svmFeePayers.address })
          .from(svmFeePayers)
          .where(and(gt(svmFeePayers.seenAt, FORGOTTEN_AFTER), network ? dsql`${svmFeePayers.network} = ${network}` : undefined))
          .orderBy(svmFeePayers.address),
      );
      return rows.map((r) => r.address);
    },
  };
}

export type FeePayerRegistry = ReturnType<typeof createFeePayerRegistry>;
