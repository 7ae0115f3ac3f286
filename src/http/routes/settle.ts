import type { FastifyInstance, preHandlerAsyncHookHandler } from "fastify";
import { timeRequest, type ApiMetrics } from "../../metrics/api.js";
import type { Guard } from "../../policy/guard.js";
import type { SettleService } from "../../settle/settle-service.js";
import { Reason } from "../../x402/reasons.js";
import { parseFacilitatorRequest, type PayloadSchemaFor } from "../../x402/wire.js";
import { errorResponseSchema, settleResponseSchema } from "../response-schemas.js";

export interface SettleRouteDeps {
  settle: SettleService;
  payloadSchemaFor: PayloadSchemaFor;
  auth?: preHandlerAsyncHookHandler;
  metrics?: ApiMetrics;
  guard?: Guard;
}

export async function settleRoute(app: FastifyInstance, deps: SettleRouteDeps): Promise<void> {
  app.post(
    "/settle",
    { preHandler: deps.auth, schema: { response: { 200: settleResponseSchema, 400: errorResponseSchema } } },
    async (req, reply) => {
      const observe = timeRequest(deps.metrics?.settled, req.body);
      const parsed = parseFacilitatorRequest(req.body, deps.payloadSchemaFor);
      if (!parsed.ok) {
        observe("bad_request", Reason.invalidPayload);
        const network = (req.body as { paymentRequirements?: { network?: unknown } } | null)?.paymentRequirements?.network;
        return reply.code(400).send({
          error: "invalid_request",
          field: parsed.error.field,
          message: `${parsed.error.field}: ${parsed.error.message}`,
          success: false,
          errorReason: Reason.invalidPayload,
          transaction: "",
          network: typeof network === "string" ? network.slice(0, 64) : "",
        });
      }
      const out = await deps.settle(parsed.value, { apiKeyId: req.apiKeyId, policy: req.keyPolicy }).catch((err: unknown) => {
        observe("error");
        throw err;
      });
      const pending = !out.success && out.errorReason === Reason.settlementPending;
      observe(out.success ? "success" : pending ? "pending" : "failure", out.errorReason);
      if (!out.success) deps.guard?.charge(out.payer, out.errorReason);
      req.log.info(
        { payer: out.payer, network: out.network, success: out.success, reason: out.errorReason, tx: out.transaction },
        "settle",
      );
      return out;
    },
  );
}
