// The relayer's nonce lane as the chain and the ledger each see it, for the write-ahead
// invariants: every nonce the relayer used on chain is a transaction we stored before sending,
// the ledger's next nonce is exactly the chain's (no gap, nothing allocated and never sent), and
// nothing is left waiting in the pool.
import type { Address, Hex } from "viem";
import type postgres from "postgres";
import type { TestChain } from "./chain.js";

export interface RelayerAudit {
  /** Transactions the relayer has mined (`latest` count). */
  minedCount: number;
  /** Same count at `pending`: larger means something is stuck in the pool. */
  pendingCount: number;
  /** relayer_nonces.next_nonce for this chain and relayer (undefined: no lane). */
  ledgerNextNonce: number | undefined;
  /** nonce → hash of every transaction the relayer sent, read from the blocks themselves. */
  onChain: Map<number, Hex>;
  /** nonce → every hash stored in settlement_txs for it. */
  stored: Map<number, Set<string>>;
}

export async function auditRelayer(chain: TestChain, sql: postgres.Sql, relayer: Address): Promise<RelayerAudit> {
  const who = relayer.toLowerCase();
  const [minedCount, pendingCount, head] = await Promise.all([
    chain.client.getTransactionCount({ address: relayer, blockTag: "latest" }),
    chain.client.getTransactionCount({ address: relayer, blockTag: "pending" }),
    chain.client.getBlockNumber({ cacheTime: 0 }),
  ]);
  const onChain = new Map<number, Hex>();
  const numbers = Array.from({ length: Number(head) + 1 }, (_, i) => BigInt(i));
  for (let i = 0; i < numbers.length; i += 50) {
    const blocks = await Promise.all(
      numbers.slice(i, i + 50).map((n) => chain.client.getBlock({ blockNumber: n, includeTransactions: true })),
    );
    for (const block of blocks) for (const tx of block.transactions) if (tx.from.toLowerCase() === who) onChain.set(tx.nonce, tx.hash);
  }
  const [lane] = await sql<
    { next_nonce: string }[]
  >`select next_nonce::text from relayer_nonces where chain_id = ${chain.chainId} and address = ${who}`;
  const rows = await sql<{ relayer_nonce: string; hash: string }[]>`
    select relayer_nonce::text, hash from settlement_txs where chain_id = ${chain.chainId} and relayer_address = ${who}`;
  const stored = new Map<number, Set<string>>();
  for (const r of rows) {
    const n = Number(r.relayer_nonce);
    stored.set(n, (stored.get(n) ?? new Set()).add(r.hash));
  }
  return { minedCount, pendingCount, ledgerNextNonce: lane ? Number(lane.next_nonce) : undefined, onChain, stored };
}

/** Human-readable mismatches between chain and ledger; empty when the invariants hold. */
export function relayerProblems(a: RelayerAudit): string[] {
  const problems: string[] = [];
  if (a.pendingCount !== a.minedCount) problems.push(`${a.pendingCount - a.minedCount} relayer transaction(s) still pending in the pool`);
  if (a.ledgerNextNonce !== a.minedCount)
    problems.push(`relayer_nonces.next_nonce is ${a.ledgerNextNonce}, the chain's nonce is ${a.minedCount}`);
  for (let n = 0; n < a.minedCount; n++) {
    const hash = a.onChain.get(n);
    if (!hash) problems.push(`nonce ${n} is used on chain but no relayer transaction with it was found in the blocks`);
    else if (!a.stored.get(n)?.has(hash)) problems.push(`nonce ${n} was used on chain by ${hash}, which settlement_txs does not hold`);
  }
  for (const n of a.stored.keys())
    if (n >= a.minedCount) problems.push(`nonce ${n} is stored in settlement_txs but was never used on chain`);
  return problems;
}
