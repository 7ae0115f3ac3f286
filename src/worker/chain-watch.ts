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
  /**
   * True when every block mined since `sinceMs` (epoch ms) has been read, or will be, while this
   * watcher keeps running: a transaction sent after that moment needs no look of its own.
   */
  coveredSince(sinceMs: number): boolean;
  /** The latest block read, when one has been. */
  head(): Pick<Block, "number" | "hash" | "timestamp"> | undefined;
  stop(): void;
}

interface Waiter {
  hashes: Set<string>;
  blocksLeft: number;
  done(r: TransactionReceipt | undefined): void;
}

/** At most this many blocks are read per poll; beyond, waiters fall back to their own look. */
const MAX_CATCH_UP = 32;
/** How many recent blocks' transaction hashes are remembered for waiters that register late. */
const RECENT_BLOCKS = 64;

export function createChainWatch(client: PublicClient, clock: BlockClock): ChainWatch {
  const waiters = new Set<Waiter>();
  let latest: Pick<Block, "number" | "hash" | "timestamp"> | undefined;
  let scanned = -1n;
  let running = false;
  let stopped = false;
  /** When the current run of the loop began, and when it last skipped blocks. */
  let runningSince = Infinity;
  let gapAt = 0;
  const recent = new Map<string, bigint>();
  const recentByBlock = new Map<bigint, string[]>();

  function remember(n: bigint, txs: string[]) {
    recentByBlock.set(n, txs);
    for (const tx of txs) recent.set(tx, n);
    for (const old of recentByBlock.keys()) {
      if (recentByBlock.size <= RECENT_BLOCKS) break;
      for (const tx of recentByBlock.get(old)!) if (recent.get(tx) === old) recent.delete(tx);
      recentByBlock.delete(old);
    }
  }

  async function fetchFor(hash: string, ws: Waiter[]) {
    const receipt = await client.getTransactionReceipt({ hash: hash as Hex }).catch(() => undefined);
    if (receipt) for (const w of ws) finish(w, receipt);
  }

  async function readBlock(n: bigint) {
    const block = await client.getBlock({ blockNumber: n });
    if (!latest || block.number! >= latest.number!) latest = { number: block.number, hash: block.hash, timestamp: block.timestamp };
    const txs = (block.transactions as Hex[]).map((tx) => tx.toLowerCase());
    // Remembered in the same turn as the match below: a waiter registering later finds it there.
    remember(n, txs);
    const found = new Map<string, Waiter[]>();
    for (const key of txs) for (const w of waiters) if (w.hashes.has(key)) found.set(key, [...(found.get(key) ?? []), w]);
    // One receipt per mined hash of ours, fetched together (the transport batches them).
    await Promise.all([...found].map(([hash, ws]) => fetchFor(hash, ws)));
  }

  function finish(w: Waiter, r: TransactionReceipt | undefined) {
    if (!waiters.delete(w)) return;
    w.done(r);
  }

  async function loop() {
    running = true;
    runningSince = Date.now();
    // After an idle spell, start from the head: new waiters look for older blocks themselves
    // (anything mined before this moment is at or below the head the clock already knows).
    scanned = -1n;
    try {
      while (!stopped && waiters.size) {
        const head = await clock.next(scanned, Date.now() + 60_000);
        if (stopped) break;
        if (head <= scanned) continue;
        const skipping = scanned >= 0n && head - scanned > BigInt(MAX_CATCH_UP);
        if (skipping) gapAt = Date.now();
        const from = scanned < 0n || skipping ? head : scanned + 1n;
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
      runningSince = Infinity;
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
      // Mined in a block already read: its receipt now.
      const mined = [...w.hashes].find((h) => recent.has(h));
      if (mined) void fetchFor(mined, [w]);
      return { result, cancel: () => finish(w, undefined) };
    },
    coveredSince: (sinceMs) => running && !stopped && runningSince <= sinceMs && gapAt < sinceMs,
    head: () => latest,
    stop() {
      stopped = true;
      for (const w of [...waiters]) finish(w, undefined);
    },
  };
}
