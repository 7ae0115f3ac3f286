// Bearer-key checks. Keys are compared by their SHA-256 digests in constant time, so neither
// timing nor length leaks how close a guess was; the keys themselves are not kept.
import { timingSafeEqual } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";
import { plainKey, sha256, type KeyEntry, type KeyPolicy } from "../policy/api-keys.js";

export interface KeyRing {
  /** The matching key's policy (its id names it in logs and the ledger), or undefined. */
  match(header: string | undefined): KeyPolicy | undefined;
}

/** Reads the bearer key of an Authorization header. */
export const bearerOf = (header: string | undefined) => /^Bearer\s+(\S+)\s*$/i.exec(header ?? "")?.[1];

export function createPolicyRing(entries: readonly KeyEntry[]): KeyRing {
  return {
    match(header) {
      const key = bearerOf(header);
      if (!key) return undefined;
      const d = sha256(key);
      // Every entry is compared, found or not: the time taken says nothing of which one matched.
      let found: KeyPolicy | undefined;
      for (const e of entries) if (timingSafeEqual(d, e.digest)) found = e.policy;
      return found;
    },
  };
}

/** Keys without policy (API_KEYS, the admin and metrics keys). */
export const createKeyRing = (keys: readonly string[]): KeyRing => createPolicyRing(keys.map(plainKey));

declare module "fastify" {
  interface FastifyRequest {
    apiKeyId?: string;
    /** The policy of the key the request carried (API keys only). */
    keyPolicy?: KeyPolicy;
  }
}

/** A preHandler that answers 401 unless the request carries one of the keys. */
export function requireKey(ring: KeyRing, realm: string) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const policy = ring.match(req.headers.authorization);
    if (!policy) {
      reply.header("www-authenticate", `Bearer realm="${realm}"`);
      return reply.code(401).send({ error: "unauthorized", message: "missing or unknown bearer key" });
    }
    req.apiKeyId = policy.id;
    req.keyPolicy = policy;
  };
}
