// API keys with a policy each (API_KEYS_FILE), beside the plain keys of API_KEYS. A key is kept
// only as its SHA-256 digest and compared in constant time; the policy says what the key may ask
// for: which payTo, networks and assets, how much per payment, how fast, and how much gas a day.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { z } from "zod";

const hexAddress = z
  .string()
  .regex(/^0x[0-9a-fA-F]{40}$/, "must be a 0x-prefixed 20-byte hex address")
  .transform((s) => s.toLowerCase());
const decimal = z.string().regex(/^(0|[1-9][0-9]{0,77})$/, "must be a decimal integer string");

export const keyPolicySchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, "1 to 64 letters, digits, '.', '_' or '-'"),
  key: z.string().min(16, "at least 16 characters").optional(),
  sha256: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, "the key's SHA-256 digest in hex")
    .transform((s) => s.toLowerCase())
    .optional(),
  payTo: z.array(hexAddress).min(1).optional(),
  /** CAIP-2 ids or v1 names, as the requests name them. */
  networks: z.array(z.string().min(1).max(64)).min(1).optional(),
  assets: z.array(hexAddress).min(1).optional(),
  /** Most a single payment may be, in the asset's smallest unit. */
  maxAmount: decimal.optional(),
  rateLimit: z
    .strictObject({ perSecond: z.number().positive().max(100_000), burst: z.number().int().positive().max(1_000_000).optional() })
    .optional(),
  dailyGasBudgetWei: decimal.optional(),
});

export type KeyPolicy = Omit<z.infer<typeof keyPolicySchema>, "key" | "sha256">;

export interface KeyEntry {
  /** Its digest (never the key itself). */
  digest: Buffer;
  policy: KeyPolicy;
}

export const sha256 = (s: string) => createHash("sha256").update(s).digest();

/** Parses API_KEYS_FILE's content; throws a message naming the entry and field. */
export function parseKeysFile(text: string): KeyEntry[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new Error("is not JSON");
  }
  const parsed = z.array(keyPolicySchema).safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`${issue.path.join(".") || "(file)"}: ${issue.message}`);
  }
  const ids = new Set<string>();
  return parsed.data.map(({ key, sha256: digest, ...policy }, i) => {
    if (!!key === !!digest) throw new Error(`${i}: give exactly one of key and sha256`);
    if (ids.has(policy.id)) throw new Error(`${i}.id: ${policy.id} is used twice`);
    ids.add(policy.id);
    return { digest: key ? sha256(key) : Buffer.from(digest!, "hex"), policy };
  });
}

export const loadKeysFile = (path: string) => parseKeysFile(readFileSync(path, "utf8"));

/** A plain API_KEYS key: no restrictions, its id a digest prefix (as the ledger has always recorded it). */
export function plainKey(key: string): KeyEntry {
  const digest = sha256(key);
  return { digest, policy: { id: digest.toString("hex").slice(0, 12) } };
}
