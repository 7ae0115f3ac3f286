// zod → JSON Schema for Fastify and the OpenAPI document: what a client may send (the input side
// of transforms), with refinements the schema language cannot state left to the handlers. Named
// schemas are inlined where they are used, so each piece of the document stands alone.
import { z } from "zod";

type Json = Record<string, unknown>;

function inline(node: unknown, defs: Json): unknown {
  if (Array.isArray(node)) return node.map((n) => inline(n, defs));
  if (!node || typeof node !== "object") return node;
  const ref = (node as Json).$ref;
  if (typeof ref === "string" && ref.startsWith("#/$defs/")) return inline(defs[ref.slice(8)], defs);
  return Object.fromEntries(Object.entries(node as Json).map(([k, v]) => [k, inline(v, defs)]));
}

export function jsonSchema(schema: z.ZodType): Json {
  const out = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as Json;
  const defs = (out.$defs ?? {}) as Json;
  delete out.$schema;
  delete out.$defs;
  return inline(out, defs) as Json;
}
