// The /verify and /settle body as the document shows it: the wire envelope (src/x402/wire.ts)
// with `paymentPayload.payload` as one of the enabled methods' own payload schemas.
import { z } from "zod";
import { payloadV1Schema, payloadV2Schema, requirementsV1Schema, requirementsV2Schema } from "../../x402/wire.js";

export function facilitatorBodySchema(methods: readonly { payloadSchema: z.ZodType }[]): z.ZodType {
  const [first, ...rest] = methods.map((m) => m.payloadSchema);
  const payload = rest.length ? z.union([first!, ...rest] as [z.ZodType, z.ZodType, ...z.ZodType[]]) : first!;
  return z
    .union([
      z.object({
        x402Version: z.literal(2).optional(),
        paymentPayload: payloadV2Schema.extend({ payload }),
        paymentRequirements: requirementsV2Schema,
      }),
      z.object({
        x402Version: z.literal(1).optional(),
        paymentPayload: payloadV1Schema.extend({ payload }),
        paymentRequirements: requirementsV1Schema,
      }),
    ])
    .meta({ description: "x402 v2 or v1: the payment payload the client sent, and the requirements it paid against" });
}
