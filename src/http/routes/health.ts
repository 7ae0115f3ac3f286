import type { FastifyInstance } from "fastify";
import { scrubUrls } from "../../logger.js";

/** Throws when not ready; may return details worth showing either way. */
export type ReadinessCheck = () => Promise<void | Record<string, unknown>>;

export interface HealthRouteDeps {
  /** Named dependency probes for /readyz (Postgres, Redis, each RPC …). */
  readiness: Record<string, ReadinessCheck>;
  timeoutMs?: number;
}

export async function healthRoute(app: FastifyInstance, deps: HealthRouteDeps): Promise<void> {
  const alive = async () => ({ status: "ok" });
  app.get("/health", alive);
  app.get("/healthz", alive);
  app.get("/readyz", async (_req, reply) => {
    const timeoutMs = deps.timeoutMs ?? 3_000;
    const entries = await Promise.all(
      Object.entries(deps.readiness).map(async ([name, probe]) => {
        let timer: NodeJS.Timeout | undefined;
        try {
          const detail = await Promise.race([
            probe(),
            new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs))),
          ]);
          return [name, { ok: true, ...detail }] as const;
        } catch (err) {
          return [name, { ok: false, error: scrubUrls((err as Error).message).slice(0, 200) }] as const;
        } finally {
          clearTimeout(timer);
        }
      }),
    );
    const checks = Object.fromEntries(entries);
    const ready = entries.every(([, r]) => r.ok);
    return reply.code(ready ? 200 : 503).send({ status: ready ? "ready" : "not_ready", checks });
  });
}
