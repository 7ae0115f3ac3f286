// One watcher per chain for everything the worker waits on: each new block is read once (its
// header and transaction hashes), and a settlement waiting for its transaction hears of it when
// that hash shows up, with the receipt fetched once. Without it, every waiting settlement asked
// the node for its own receipt, the head and its transaction on every block: work that grew with
// the number in flight. A block missed between polls is read on the next one; a block read before
// a hash was registered is covered by the caller's own direct look when it starts waiting.
import type { Block, Hex, PublicClient, TransactionReceipt } from "viem";
import type { BlockClock } from "./block-clock.js";

export interface ChainWatch {
  /**
   * Resolves with the receipt of the first of `hashes` seen in a block read from now on; with
   * undefined once `blocks` new blocks have passed without one, or at `deadline` (ms epoch).
   */
  receipt(
    hashes: readonly string[],
    o: { blocks: number; deadline: number },
  ): { result: Promise<TransactionReceipt | undefined>; cancel(): void };
  /** The latest block read, when one has been. */
  head(): Pick<Block, "number" | "hash" | "timestamp"> | undefined;
  /** The hash of block `n` when it is among the recent blocks read. */
  hashOf(n: bigint): string | undefined;
  stop(): void;
}

interface Waiter {
  hashes: Set<string>;
  blocksLeft: number;
  done(r: TransactionReceipt | undefined): void;
}

/** How many recent block hashes are kept for confirmation checks. */
const KEEP_BLOCKS = 256;
/** At most this many blocks are read per poll; beyond, waiters fall back to their own look. */
const MAX_CATCH_UP = 32;

export function createChainWatch(client: PublicClient, clock: BlockClock): ChainWatch {
  const waiters = new Set<Waiter>();
  const hashes = new Map<bigint, string>();
  let latest: Pick<Block, "number" | "hash" | "timestamp"> | undefined;
  let scanned = -1n;
  let running = false;
  let stopped = false;

  async function readBlock(n: bigint) {
    const block = await client.getBlock({ blockNumber: n });
    hashes.set(n, block.hash!);
    if (hashes.size > KEEP_BLOCKS) hashes.delete(hashes.keys().next().value!);
    if (!latest || block.number! >= latest.number!) latest = { number: block.number, hash: block.hash, timestamp: block.timestamp };
    const found = new Map<string, Waiter[]>();
    for (const tx of block.transactions as Hex[]) {
      const key = tx.toLowerCase();
      for (const w of waiters) if (w.hashes.has(key)) found.set(key, [...(found.get(key) ?? []), w]);
    }
    // One receipt per mined hash of ours, fetched together (the transport batches them).
    await Promise.all(
      [...found].map(async ([hash, ws]) => {
        const receipt = await client.getTransactionReceipt({ hash: hash as Hex }).catch(() => undefined);
        if (receipt) for (const w of ws) finish(w, receipt);
      }),
    );
  }

  function finish(w: Waiter, r: TransactionReceipt | undefined) {
    if (!waiters.delete(w)) return;
    w.done(r);
  }

  async function loop() {
    running = true;
    // After an idle spell, start from the head: new waiters look for older blocks themselves.
    scanned = -1n;
    try {
      while (!stopped && waiters.size) {
        const head = await clock.next(scanned, Date.now() + 60_000);
        if (stopped) break;
        if (head <= scanned) continue;
        const from = scanned < 0n || head - scanned > BigInt(MAX_CATCH_UP) ? head : scanned + 1n;
        try {
          for (let n = from; n <= head; n++) await readBlock(n);
          scanned = head;
        } catch {
          // The node did not answer: the same blocks are read again on the next head.
          await new Promise((r) => setTimeout(r, 200));
          continue;
        }
        const read = Number(head - from + 1n);
        for (const w of [...waiters]) if ((w.blocksLeft -= read) <= 0) finish(w, undefined);
      }
    } finally {
      running = false;
    }
  }

  return {
    receipt(txHashes, o) {
      let w!: Waiter;
      const result = new Promise<TransactionReceipt | undefined>((resolve) => {
        w = { hashes: new Set(txHashes.map((h) => h.toLowerCase())), blocksLeft: o.blocks, done: resolve };
        const t = setTimeout(() => finish(w, undefined), Math.max(0, o.deadline - Date.now()));
        w.done = (r) => (clearTimeout(t), resolve(r));
      });
      waiters.add(w);
      if (stopped) finish(w, undefined);
      else if (!running) void loop();
      return { result, cancel: () => finish(w, undefined) };
    },
    head: () => latest,
    hashOf: (n) => hashes.get(n),
    stop() {
      stopped = true;
      for (const w of [...waiters]) finish(w, undefined);
    },
  };
}
