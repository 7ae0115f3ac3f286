// A set whose members fade after `ttlMs`, capped in size (cleared when full: keys can come
// from requests, so it must not grow without bound).
export function createExpiringSet(ttlMs: number, maxSize: number) {
  const until = new Map<string, number>();
  return {
    has(key: string): boolean {
      const t = until.get(key);
      if (t === undefined) return false;
      if (t > Date.now()) return true;
      until.delete(key);
      return false;
    },
    remember(key: string): void {
      if (until.size >= maxSize) until.clear();
      until.set(key, Date.now() + ttlMs);
    },
  };
}
