// What a Solana transaction costs its fee payer, read from the transaction itself: 5,000
// lamports per signature plus the priority fee (compute-unit limit × price, in micro-lamports).
import type { WireTransaction } from "./wire-transaction.js";

export const LAMPORTS_PER_SIGNATURE = 5_000n;

export function feeLamports(tx: WireTransaction, computeUnits: number, microLamports: bigint): bigint {
  const priority = (BigInt(computeUnits) * microLamports + 999_999n) / 1_000_000n;
  return LAMPORTS_PER_SIGNATURE * BigInt(tx.message.header.numSignerAccounts) + priority;
}
