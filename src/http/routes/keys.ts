// The API keys as the operator sees them (admin key): each one's restrictions and how much of its
// daily gas budget is spent. Never the key or its digest.
import type { FastifyInstance, preHandlerAsyncHookHandler } from "fastify";
import type { z } from "zod";
import type { KeyPolicy } from "../../policy/api-keys.js";
import type { apiKeySchema } from "../openapi/resources.js";

export interface KeysRouteDeps {
  policies: readonly KeyPolicy[];
  gasSpentToday(): Promise<Map<string, bigint>>;
  auth: preHandlerAsyncHookHandler;
}

export async function keysRoute(app: FastifyInstance, deps: KeysRouteDeps): Promise<void> {
  app.get("/keys", { preHandler: deps.auth }, async () => {
    const spent = await deps.gasSpentToday();
    const items: z.infer<typeof apiKeySchema>[] = deps.policies.map((p) => {
      const wei = spent.get(p.id) ?? 0n;
      return { ...p, gasSpentTodayWei: wei.toString(), gasBudgetSpent: !!p.dailyGasBudgetWei && wei >= BigInt(p.dailyGasBudgetWei) };
    });
    return { items };
  });
}
