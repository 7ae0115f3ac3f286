// Fee arithmetic for EIP-1559 sends and same-nonce replacements. Nodes refuse a replacement
// unless both fee fields rise (geth by 10%, others by 12.5%), so every bump is at least 12.5%,
// and nothing ever offers more than the network's ceiling.

export interface Fees {
  maxFeePerGas: bigint;
  maxPriorityFeePerGas: bigint;
}

/** +12.5%, rounded up, and at least +1 wei so a zero tip still moves. */
export const bump = (x: bigint): bigint => x + (x * 125n + 999n) / 1000n + (x === 0n ? 1n : 0n);

/** First offer: the market's estimate, held under the ceiling. */
export function initialFees(market: Fees, cap: bigint): Fees {
  const maxFeePerGas = market.maxFeePerGas > cap ? cap : market.maxFeePerGas;
  const maxPriorityFeePerGas = market.maxPriorityFeePerGas > maxFeePerGas ? maxFeePerGas : market.maxPriorityFeePerGas;
  return { maxFeePerGas, maxPriorityFeePerGas };
}

/**
 * Fees for replacing `previous`: at least a 12.5% bump of each field, or the market's current
 * estimate if higher. Undefined when the ceiling leaves no room for a valid bump.
 */
export function replacementFees(previous: Fees, market: Fees, cap: bigint): Fees | undefined {
  const minMax = bump(previous.maxFeePerGas);
  const minTip = bump(previous.maxPriorityFeePerGas);
  if (minMax > cap) return undefined;
  const maxFeePerGas = market.maxFeePerGas > minMax ? (market.maxFeePerGas > cap ? cap : market.maxFeePerGas) : minMax;
  const tip = market.maxPriorityFeePerGas > minTip ? market.maxPriorityFeePerGas : minTip;
  if (minTip > maxFeePerGas) return undefined;
  return { maxFeePerGas, maxPriorityFeePerGas: tip > maxFeePerGas ? maxFeePerGas : tip };
}

/** The market's fees, asked once a second per chain rather than once per settlement. */
export function createFeeCache(ttlMs = 1_000) {
  const cache = new Map<number, { at: number; fees: Promise<Fees> }>();
  return function marketFees(chainId: number, client: { estimateFeesPerGas(): Promise<Fees> }): Promise<Fees> {
    const hit = cache.get(chainId);
    if (hit && Date.now() - hit.at < ttlMs) return hit.fees;
    const fees = client.estimateFeesPerGas();
    cache.set(chainId, { at: Date.now(), fees });
    fees.catch(() => cache.delete(chainId));
    return fees;
  };
}
