// The Solana `exact` payload on the wire: one partially signed transaction, base64.
import { z } from "zod";
// The largest wire transaction a cluster takes (a packet); kept here, not imported, so reading
// the schema (the OpenAPI document does) loads no Solana library.
const MAX_WIRE_TRANSACTION_BYTES = 1232;
const MAX_BASE64 = Math.ceil(MAX_WIRE_TRANSACTION_BYTES / 3) * 4;

export const svmExactPayloadSchema = z.strictObject({
  transaction: z
    .string()
    .min(1)
    .max(MAX_BASE64, `must be at most ${MAX_WIRE_TRANSACTION_BYTES} bytes of transaction, base64`)
    .regex(/^[A-Za-z0-9+/]+={0,2}$/, "must be base64"),
});
export type SvmExactPayload = z.infer<typeof svmExactPayloadSchema>;
