// GET /openapi.json and GET /docs: the OpenAPI 3.1 document of every route, built as routes are
// registered from what ROUTE_DOCS says of each (register this before the routes).
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { FastifyInstance } from "fastify";
import { ROUTE_DOCS } from "./routes.js";

declare module "fastify" {
  interface FastifyInstance {
    /** "METHOD /path" of every route registered after the document (HEAD excluded): what it must cover. */
    registeredRoutes: string[];
  }
}

export async function registerOpenApi(app: FastifyInstance, o: { basePath?: string; version: string }): Promise<void> {
  const base = o.basePath ?? "";
  const registered: string[] = [];
  app.decorate("registeredRoutes", registered);
  app.addHook("onRoute", (route) => {
    for (const method of [route.method].flat()) if (method !== "HEAD") registered.push(`${method} ${route.url}`);
  });
  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "x402-facilitator",
        version: o.version,
        description:
          "A self-hosted x402 facilitator: /verify, /settle and /supported for resource servers (x402 v1 and v2), and the " +
          "operator API (settlements, webhooks, metrics). Amounts are decimal strings in the token's smallest unit.",
      },
      ...(base ? { servers: [{ url: base }] } : {}),
      components: {
        securitySchemes: {
          apiKey: { type: "http", scheme: "bearer", description: "One of API_KEYS; only when API_KEYS is set" },
          adminKey: { type: "http", scheme: "bearer", description: "ADMIN_API_KEY" },
          metricsKey: { type: "http", scheme: "bearer", description: "METRICS_API_KEY; only when it is set" },
        },
      },
      tags: [
        { name: "x402", description: "The facilitator protocol, for resource servers and their middleware" },
        { name: "operator", description: "Operators' view of the ledger and the process (admin key)" },
        { name: "webhooks", description: "Signed pushes of settlement events (Standard Webhooks)" },
        { name: "discovery", description: "The Bazaar catalog of resources paid through this facilitator, and its controls (admin key)" },
        { name: "health", description: "Probes for orchestrators and load balancers" },
        { name: "dashboard", description: "The read-only operator page (HTML; admin key, then a session cookie)" },
      ],
    },
    transform: ({ schema, url, route }) => {
      if (route.method === "HEAD") return { schema: { ...schema, hide: true }, url };
      const path = base && url.startsWith(base) ? url.slice(base.length) || "/" : url;
      const doc = ROUTE_DOCS[`${String(route.method)} ${path}`];
      return { schema: (doc ?? schema) as typeof schema, url: path };
    },
  });
  await app.register(swaggerUi, { routePrefix: `${base}/docs`, uiConfig: { docExpansion: "list", deepLinking: false } });
  app.get(`${base}/openapi.json`, async () => app.swagger());
}
