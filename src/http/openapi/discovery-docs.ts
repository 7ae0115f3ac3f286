// The OpenAPI entries of the Bazaar routes (src/http/routes/discovery.ts).
import { z } from "zod";
import { adminResourcesQuery, resourcesQuery, searchQuery } from "../routes/discovery.js";
import { jsonSchema } from "./json-schema.js";
import { errorSchema } from "./resources.js";

const json = (description: string, schema: z.ZodType) => ({ description, ...jsonSchema(schema) });
const error = (description: string) => json(description, errorSchema);
const unavailable = error("Postgres could not be asked; retry shortly");
const unauthorized = error("Missing or unknown bearer key");
const tags = ["discovery"];
const admin = [{ adminKey: [] }];
const idParam = jsonSchema(z.object({ id: z.string().regex(/^[1-9][0-9]*$/) }));

const resource = z.object({
  resource: z.string().meta({ description: "The resource URL, or its route template" }),
  type: z.enum(["http", "mcp"]),
  x402Version: z.number(),
  accepts: z.array(z.record(z.string(), z.unknown())).meta({ description: "The payment requirements it was paid with" }),
  lastUpdated: z.string().meta({ description: "When a payment last declared it" }),
  description: z.string().optional(),
  mimeType: z.string().optional(),
  serviceName: z.string().optional(),
  tags: z.array(z.string()).optional(),
  iconUrl: z.string().optional(),
  extensions: z.object({ bazaar: z.object({ info: z.unknown(), schema: z.unknown() }) }),
});
const operatorResource = resource.extend({ id: z.string(), payTo: z.string(), firstSeen: z.string(), hidden: z.boolean() });

const entryAnswers = {
  200: json("The entry", operatorResource),
  400: error("Not an id"),
  401: unauthorized,
  404: error("No such entry"),
  503: unavailable,
};

export const DISCOVERY_DOCS = {
  "GET /discovery/resources": {
    tags,
    summary: "List the catalog",
    description: "Resources paid through this facilitator that declared the bazaar extension, newest first; offset pages with a total.",
    querystring: jsonSchema(resourcesQuery),
    response: {
      200: json(
        "A page of resources",
        z.object({
          x402Version: z.literal(2),
          items: z.array(resource),
          pagination: z.object({ limit: z.number(), offset: z.number(), total: z.number() }),
        }),
      ),
      400: error("A filter is malformed"),
      503: unavailable,
    },
  },
  "GET /discovery/search": {
    tags,
    summary: "Search the catalog",
    description: "Full-text search over description, service name and tags, best match first; `pagination.cursor` pages on.",
    querystring: jsonSchema(searchQuery),
    response: {
      200: json(
        "Matching resources",
        z.object({
          x402Version: z.literal(2),
          resources: z.array(resource),
          partialResults: z.boolean(),
          pagination: z.object({ limit: z.number(), cursor: z.string().nullable() }),
        }),
      ),
      400: error("The query or a filter is malformed"),
      503: unavailable,
    },
  },
  "GET /discovery/admin/resources": {
    tags,
    summary: "Catalog entries by payTo (hidden and stale ones too)",
    security: admin,
    querystring: jsonSchema(adminResourcesQuery),
    response: {
      200: json("Entries", z.object({ items: z.array(operatorResource) })),
      400: error("A filter is malformed"),
      401: unauthorized,
      503: unavailable,
    },
  },
  "POST /discovery/admin/resources/:id/hide": {
    tags,
    summary: "Hide an entry from the listings (it is kept, and stays hidden when paid again)",
    security: admin,
    params: idParam,
    response: entryAnswers,
  },
  "POST /discovery/admin/resources/:id/unhide": {
    tags,
    summary: "List a hidden entry again",
    security: admin,
    params: idParam,
    response: entryAnswers,
  },
  "DELETE /discovery/admin/resources/:id": {
    tags,
    summary: "Remove an entry (a later payment that declares it lists it again)",
    security: admin,
    params: idParam,
    response: {
      204: { description: "Removed" },
      400: error("Not an id"),
      401: unauthorized,
      404: error("No such entry"),
      503: unavailable,
    },
  },
};
