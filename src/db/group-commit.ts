// Group commit: calls arriving while a flush is running wait for the next flush and go to the
// database together, so N concurrent settlements cost one transaction, not N. One flush runs at a
// time per committer; the first call after an idle spell waits only for the current I/O phase.

export function groupCommit<I, O>(flush: (items: I[]) => Promise<O[]>, maxBatch = 500, lingerMs = 0): (item: I) => Promise<O> {
  const waiting: { item: I; resolve(o: O): void; reject(e: unknown): void }[] = [];
  let running = false;

  async function drain() {
    while (waiting.length) {
      const batch = waiting.splice(0, maxBatch);
      try {
        const out = await flush(batch.map((w) => w.item));
        batch.forEach((w, i) => w.resolve(out[i]!));
      } catch (err) {
        batch.forEach((w) => w.reject(err));
      }
    }
    running = false;
  }

  return (item) =>
    new Promise<O>((resolve, reject) => {
      waiting.push({ item, resolve, reject });
      if (running) return;
      running = true;
      // Lingering lets the first call after an idle spell wait for company (batching on).
      if (lingerMs > 0) setTimeout(() => void drain(), lingerMs);
      else setImmediate(() => void drain());
    });
}

/** One group committer per key (a relayer lane), made on first use. */
export function groupCommitBy<K, I, O>(
  keyOf: (item: I) => K,
  flush: (key: K, items: I[]) => Promise<O[]>,
  lingerMs = 0,
): (item: I) => Promise<O> {
  const committers = new Map<K, (item: I) => Promise<O>>();
  return (item) => {
    const key = keyOf(item);
    let commit = committers.get(key);
    if (!commit) committers.set(key, (commit = groupCommit((items: I[]) => flush(key, items), 500, lingerMs)));
    return commit(item);
  };
}
