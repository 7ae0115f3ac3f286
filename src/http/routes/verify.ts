import type { FastifyInstance, preHandlerAsyncHookHandler } from "fastify";
import { timeRequest, type ApiMetrics } from "../../metrics/api.js";
import type { Guard } from "../../policy/guard.js";
import type { Verifier } from "../../schemes/scheme.js";
import { Reason } from "../../x402/reasons.js";
import { parseFacilitatorRequest, type PayloadSchemaFor } from "../../x402/wire.js";
import type { SettlementRow } from "../../db/settlements-repo.js";
import { judgePaymentId } from "../../settle/payment-identifier.js";
import { requestHash } from "../../settle/settle-service.js";
import { errorResponseSchema, verifyResponseSchema } from "../response-schemas.js";

export interface VerifyRouteDeps {
  verifier: Verifier;
  payloadSchemaFor: PayloadSchemaFor;
  auth?: preHandlerAsyncHookHandler;
  metrics?: ApiMetrics;
  guard?: Guard;
  /** payment-identifier: an id already used for a different payment makes this one invalid. */
  findByPaymentId?: (payer: string, id: string) => Promise<SettlementRow | undefined>;
}

export async function verifyRoute(app: FastifyInstance, deps: VerifyRouteDeps): Promise<void> {
  app.post(
    "/verify",
    { preHandler: deps.auth, schema: { response: { 200: verifyResponseSchema, 400: errorResponseSchema } } },
    async (req, reply) => {
      const observe = timeRequest(deps.metrics?.verified, req.body);
      const parsed = parseFacilitatorRequest(req.body, deps.payloadSchemaFor);
      if (!parsed.ok) {
        observe("bad_request", Reason.invalidPayload);
        // isValid/invalidReason let the official clients turn this into a 402 for the buyer.
        return reply.code(400).send({
          error: "invalid_request",
          field: parsed.error.field,
          message: `${parsed.error.field}: ${parsed.error.message}`,
          isValid: false,
          invalidReason: Reason.invalidPayload,
        });
      }
      const refused = await deps.guard?.check(parsed.value, { policy: req.keyPolicy, settling: false });
      let out = refused
        ? { isValid: false, invalidReason: refused.reason, invalidMessage: refused.message, payer: deps.guard!.payerOf(parsed.value) }
        : await deps.verifier(parsed.value, { checkLedger: true }).catch((err: unknown) => {
            observe("error");
            throw err;
          });
      if (out.isValid && deps.findByPaymentId) {
        const byId = await judgePaymentId(parsed.value, out.payer, () => requestHash(parsed.value), deps.findByPaymentId);
        if (byId.kind === "refused") out = { isValid: false, invalidReason: byId.reason, invalidMessage: byId.message, payer: out.payer };
      }
      observe(out.isValid ? "valid" : "invalid", out.invalidReason);
      if (!out.isValid) deps.guard?.charge(out.payer, out.invalidReason);
      // debug, not info: a verify line per paid request would dominate the log at full load
      req.log.debug(
        { payer: out.payer, network: parsed.value.paymentRequirements.network, isValid: out.isValid, reason: out.invalidReason },
        "verify",
      );
      return {
        isValid: out.isValid,
        ...(out.invalidReason ? { invalidReason: out.invalidReason } : {}),
        ...(out.invalidMessage ? { invalidMessage: out.invalidMessage } : {}),
        payer: out.payer,
      };
    },
  );
}
