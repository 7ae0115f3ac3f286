// Admin JSON for what the operator page shows beyond settlements: relayer lanes, outcome counts
// with the backlog, and failing webhook deliveries.
import type { FastifyInstance, preHandlerAsyncHookHandler } from "fastify";
import { z } from "zod";
import { invalidRequest } from "../invalid-request.js";
import type { OperatorReads } from "./operator-reads.js";
import { STATS_WINDOWS } from "./settlement-stats.js";

export interface OperatorRouteDeps {
  reads: OperatorReads;
  auth: preHandlerAsyncHookHandler;
}

export const noQuery = z.strictObject({});
export const statsQuery = z.strictObject({ window: z.enum(STATS_WINDOWS).default("1h") });

export async function operatorRoute(app: FastifyInstance, deps: OperatorRouteDeps): Promise<void> {
  const { reads } = deps;

  app.get("/relayers", { preHandler: deps.auth }, async (req, reply) => {
    const q = noQuery.safeParse(req.query ?? {});
    if (!q.success) return reply.code(400).send(invalidRequest(q.error));
    return { items: await reads.relayers() };
  });

  app.get("/stats", { preHandler: deps.auth }, async (req, reply) => {
    const q = statsQuery.safeParse(req.query ?? {});
    if (!q.success) return reply.code(400).send(invalidRequest(q.error));
    return reads.stats(q.data.window);
  });

  const webhooks = reads.webhooks;
  if (webhooks)
    app.get("/webhooks/failing-deliveries", { preHandler: deps.auth }, async (req, reply) => {
      const q = noQuery.safeParse(req.query ?? {});
      if (!q.success) return reply.code(400).send(invalidRequest(q.error));
      return { items: await webhooks() };
    });
}
