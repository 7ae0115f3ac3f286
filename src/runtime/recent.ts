// A read that may be a few seconds old: concurrent callers share one lookup, and the answer is
// reused until it is `ttlMs` old. A failed lookup is not kept, so the next caller asks again.
export function recent<T>(read: () => Promise<T>, ttlMs: number, nowMs: () => number = Date.now): () => Promise<T> {
  let last: { at: number; value: Promise<T> } | undefined;
  return () => {
    if (last && nowMs() - last.at < ttlMs) return last.value;
    const value = read();
    const entry = { at: nowMs(), value };
    last = entry;
    value.catch(() => {
      if (last === entry) last = undefined;
    });
    return value;
  };
}
