// One place that turns a thrown error into an HTTP answer. Bad input is a 4xx with a JSON body
// naming the problem; a dependency that cannot answer is a 503; anything else is a 500 that
// carries only the request id (details go to the log).
import type { FastifyError, FastifyInstance } from "fastify";
import { unreachableCode } from "../db/ledger.js";
import { DatabaseUnavailableError, FacilitatorError } from "../errors.js";

export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | FacilitatorError | Error, req, reply) => {
    // A connection error that reached here without a guard is still an outage, not a bug.
    const down = !(err instanceof FacilitatorError) && unreachableCode(err);
    if (down) err = new DatabaseUnavailableError(`database unavailable (${down})`, err);
    if (err instanceof FacilitatorError) {
      if (err.statusCode >= 500) req.log.warn({ err }, "dependency unavailable");
      return reply.code(err.statusCode).send({ error: err.code, message: err.message, reqId: req.id });
    }
    const status = (err as FastifyError).statusCode;
    if (status && status >= 400 && status < 500) {
      const code = (err as FastifyError).code;
      if (status === 429) return reply.code(429).send({ error: "rate_limited", message: err.message });
      // An oversized body is malformed input like any other: one status for all of it.
      const statusOut = code === "FST_ERR_CTP_BODY_TOO_LARGE" ? 400 : status;
      return reply
        .code(statusOut)
        .send({ error: code === "FST_ERR_CTP_BODY_TOO_LARGE" ? "body_too_large" : "invalid_request", message: err.message });
    }
    req.log.error({ err }, "unhandled error");
    return reply.code(500).send({ error: "internal_error", message: "internal error", reqId: req.id });
  });
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send({ error: "not_found", message: `${req.method} ${req.url} is not an endpoint` }),
  );
}
