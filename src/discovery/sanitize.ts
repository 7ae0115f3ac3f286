// What the catalog keeps of a merchant's own words. Everything in a bazaar entry comes from a
// resource server we do not control and is served to agents that may render it, so every
// string is cut to a length, stripped of control characters and HTML, URLs are http(s) only and
// without credentials, and the free-form JSON (info, schema) is bounded in size and depth.

// Controls, format characters (bidi overrides), line separators, and lone surrogates (which
// Postgres cannot store in jsonb: one of them would sink a whole batch).
const CONTROL = /[\p{Cc}\p{Cf}\p{Cs}\u2028\u2029]/gu;
const TAG = /<\/?[a-z!?][^>]*>?/gi;
const ANGLE = /[<>]/g;

export const LIMITS = {
  description: 1_000,
  string: 1_000,
  mimeType: 100,
  url: 2_048,
  toolName: 128,
  jsonBytes: 32_768,
  jsonDepth: 16,
  jsonKeys: 200,
} as const;

/** Plain text: no control characters, no HTML (tags removed, stray angle brackets dropped), trimmed and cut. */
export function plainText(value: unknown, max: number = LIMITS.string): string | undefined {
  if (typeof value !== "string") return undefined;
  const text = value.replace(CONTROL, " ").replace(TAG, "").replace(ANGLE, "").replace(/\s+/g, " ").trim();
  return text ? [...text].slice(0, max).join("") : undefined;
}

/** An http(s) URL without credentials, or undefined. */
export function httpUrl(value: unknown): URL | undefined {
  if (typeof value !== "string" || value.length > LIMITS.url || /[\p{Cc}\p{Cf}\p{Cs}\s<>"'`]/u.test(value)) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return undefined;
  if (url.username || url.password) return undefined;
  return url;
}

export function mimeType(value: unknown): string | undefined {
  return typeof value === "string" && value.length <= LIMITS.mimeType && /^[\w.+-]+\/[\w.+-]+(\s*;\s*[\w.+-]+=[\w.+"-]+)*$/.test(value)
    ? value
    : undefined;
}

/** A service name or tag the official sanitizers passed, minus anything HTML could use. */
export const safeLabel = (value: string): boolean => !/[<>"'`&]/.test(value);

/**
 * Free-form JSON (the bazaar `info` and `schema`): every string and key made plain text, depth
 * and key count bounded; undefined when it is still too large once cleaned.
 */
export function boundedJson(value: unknown): unknown {
  let keys = 0;
  const walk = (v: unknown, depth: number): unknown => {
    if (depth > LIMITS.jsonDepth) return null;
    if (typeof v === "string") return plainText(v) ?? "";
    if (typeof v === "number") return Number.isFinite(v) ? v : null;
    if (typeof v === "boolean" || v === null) return v;
    if (Array.isArray(v)) return v.slice(0, LIMITS.jsonKeys).map((x) => walk(x, depth + 1));
    if (typeof v === "object") {
      const out: Record<string, unknown> = {};
      for (const [k, child] of Object.entries(v as Record<string, unknown>)) {
        if (++keys > LIMITS.jsonKeys) break;
        const key = plainText(k, 128);
        if (key && key !== "__proto__") out[key] = walk(child, depth + 1);
      }
      return out;
    }
    return null;
  };
  const cleaned = walk(value, 0);
  return JSON.stringify(cleaned).length <= LIMITS.jsonBytes ? cleaned : undefined;
}
