// JSON schemas of the 200 answers, so Fastify serialises them with a compiled stringifier
// instead of JSON.stringify (and can never leak a field that is not part of the protocol). They
// come from the same zod definitions the OpenAPI document shows.
import { jsonSchema } from "./openapi/json-schema.js";
import { settleResponseSchema as settleResponse, verifyResponseSchema as verifyResponse } from "./openapi/resources.js";

export const verifyResponseSchema = jsonSchema(verifyResponse);
export const settleResponseSchema = jsonSchema(settleResponse);

/** Bad input: the JSON error body, passed through as built (it names the field). */
export const errorResponseSchema = { type: "object", additionalProperties: true } as const;
