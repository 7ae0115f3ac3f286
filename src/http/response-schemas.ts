// JSON schemas of the 200 answers, so Fastify serialises them with a compiled stringifier
// instead of JSON.stringify (and can never leak a field that is not part of the protocol).
const str = { type: "string" } as const;

export const verifyResponseSchema = {
  type: "object",
  required: ["isValid", "payer"],
  properties: { isValid: { type: "boolean" }, invalidReason: str, invalidMessage: str, payer: str },
} as const;

export const settleResponseSchema = {
  type: "object",
  required: ["success", "payer", "transaction", "network"],
  properties: {
    success: { type: "boolean" },
    errorReason: str,
    errorMessage: str,
    payer: str,
    transaction: str,
    network: str,
    amount: str,
  },
} as const;

/** Bad input: the JSON error body, passed through as built (it names the field). */
export const errorResponseSchema = { type: "object", additionalProperties: true } as const;
