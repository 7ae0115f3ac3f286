// Errors that stop a request (as opposed to an invalid payment, which is an answer). Each
// carries its HTTP status and a stable code; one handler maps them, reading fields only.
import { scrubUrls } from "./logger.js";

export class FacilitatorError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(scrubUrls(message), options);
    this.name = new.target.name;
  }
}

/** No RPC answered (or answered garbage): the outcome is unknown, never "valid". */
export class RpcUnavailableError extends FacilitatorError {
  constructor(message: string, cause?: unknown) {
    super(503, "rpc_unavailable", message, { cause });
  }
}

export class DatabaseUnavailableError extends FacilitatorError {
  constructor(message: string, cause?: unknown) {
    super(503, "database_unavailable", message, { cause });
  }
}

/** Redis (the worker's wake-up queue) is down: a new settlement could be claimed but not started. */
export class QueueUnavailableError extends FacilitatorError {
  constructor(message: string, cause?: unknown) {
    super(503, "queue_unavailable", message, { cause });
  }
}

export class BadRequestError extends FacilitatorError {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(400, "invalid_request", `${field}: ${message}`);
  }
}
