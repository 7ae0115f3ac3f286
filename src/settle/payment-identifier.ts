// The payment-identifier extension: a client's own idempotency key for a payment. The same id
// with the same request is answered from the ledger; the same id with a different request (a
// re-signed payment, another amount) is a conflict, never a second payment. Ids are scoped to
// the payer, so nobody can squat another payer's ids.
import { isValidPaymentId, PAYMENT_IDENTIFIER } from "@x402/extensions/payment-identifier";
import type { SettlementRow } from "../db/settlements-repo.js";
import type { FacilitatorRequest } from "../x402/wire.js";

export const PaymentIdReason = {
  invalid: "invalid_payment_identifier",
  conflict: "payment_identifier_conflict",
} as const;

/** The id a payment carries (undefined: none), or the problem with it. */
export function paymentIdOf(req: FacilitatorRequest): { id?: string; problem?: string } {
  const ext = (req.paymentPayload as { extensions?: Record<string, unknown> }).extensions?.[PAYMENT_IDENTIFIER];
  if (ext === undefined) return {};
  const id = (ext as { info?: { id?: unknown } } | null)?.info?.id;
  if (id === undefined) return {};
  if (typeof id !== "string" || !isValidPaymentId(id))
    return { problem: "extensions.payment-identifier.info.id must be 16 to 128 letters, digits, '-' or '_'" };
  return { id };
}

/** The ledger's form of a payer: EVM addresses lower case, others as they are. */
export const ledgerPayer = (payer: string) => (payer.startsWith("0x") ? payer.toLowerCase() : payer);

export type PaymentIdVerdict =
  | { kind: "none" }
  | { kind: "refused"; reason: string; message: string }
  /** The id names this very request's row: answer from it. */
  | { kind: "known"; row: SettlementRow }
  | { kind: "new"; id: string };

/**
 * What a request's payment id means before anything else is done: nothing, a malformed id, an
 * id already used by a different request (conflict), this request seen before, or a new id.
 */
export async function judgePaymentId(
  req: FacilitatorRequest,
  payer: string,
  /** Asked only when the payment carries an id (hashing the request is not free on the hot path). */
  requestHash: () => string,
  findByPaymentId: (payer: string, id: string) => Promise<SettlementRow | undefined>,
): Promise<PaymentIdVerdict> {
  const { id, problem } = paymentIdOf(req);
  if (problem) return { kind: "refused", reason: PaymentIdReason.invalid, message: problem };
  if (!id) return { kind: "none" };
  const row = await findByPaymentId(ledgerPayer(payer), id);
  if (!row) return { kind: "new", id };
  if (row.payloadSha256 !== requestHash())
    return {
      kind: "refused",
      reason: PaymentIdReason.conflict,
      message: "this payment identifier was already used for a different payment",
    };
  return { kind: "known", row };
}
