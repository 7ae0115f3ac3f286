// Bearer-key checks. Keys are compared by their SHA-256 digests in constant time, so neither
// timing nor length leaks how close a guess was.
import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";

const digest = (s: string) => createHash("sha256").update(s).digest();

export interface KeyRing {
  /** The matching key's short id (for logs and the ledger), or undefined. */
  match(header: string | undefined): string | undefined;
}

export function createKeyRing(keys: readonly string[]): KeyRing {
  const entries = keys.map((k) => ({ digest: digest(k), id: digest(k).toString("hex").slice(0, 12) }));
  return {
    match(header) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
      if (!m) return undefined;
      const d = digest(m[1]!);
      let found: string | undefined;
      for (const e of entries) if (timingSafeEqual(d, e.digest)) found = e.id;
      return found;
    },
  };
}

declare module "fastify" {
  interface FastifyRequest {
    apiKeyId?: string;
  }
}

/** A preHandler that answers 401 unless the request carries one of the keys. */
export function requireKey(ring: KeyRing, realm: string) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const id = ring.match(req.headers.authorization);
    if (!id) {
      reply.header("www-authenticate", `Bearer realm="${realm}"`);
      return reply.code(401).send({ error: "unauthorized", message: "missing or unknown bearer key" });
    }
    req.apiKeyId = id;
  };
}
