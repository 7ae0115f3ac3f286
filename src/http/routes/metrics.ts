import type { FastifyInstance, preHandlerAsyncHookHandler } from "fastify";
import type { Registry } from "prom-client";

export interface MetricsRouteDeps {
  registry: Registry;
  auth?: preHandlerAsyncHookHandler;
}

export async function metricsRoute(app: FastifyInstance, deps: MetricsRouteDeps): Promise<void> {
  app.get("/metrics", { preHandler: deps.auth }, async (_req, reply) => {
    reply.header("content-type", deps.registry.contentType);
    return deps.registry.metrics();
  });
}
