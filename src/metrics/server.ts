// The worker's own /metrics: a bare HTTP listener (the worker runs no web framework), guarded by
// METRICS_API_KEY when set. A port already taken is logged and the worker goes on without it:
// settling matters more than being scraped.
import http from "node:http";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { createKeyRing } from "../http/auth.js";

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

export async function serveMetrics(
  registry: Registry,
  o: { port: number; host: string; apiKey?: string; logger: Logger },
): Promise<MetricsServer | undefined> {
  const ring = o.apiKey ? createKeyRing([o.apiKey]) : undefined;
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "").split("?")[0];
    if (req.method !== "GET" || path !== "/metrics") {
      res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: "not_found" }));
      return;
    }
    if (ring && !ring.match(req.headers.authorization)) {
      res
        .writeHead(401, { "content-type": "application/json", "www-authenticate": 'Bearer realm="x402-facilitator-metrics"' })
        .end(JSON.stringify({ error: "unauthorized", message: "missing or unknown bearer key" }));
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { "content-type": registry.contentType }).end(text),
      (err: unknown) => {
        o.logger.warn({ err }, "metrics collection failed");
        res.writeHead(503, { "content-type": "application/json" }).end(JSON.stringify({ error: "metrics_unavailable" }));
      },
    );
  });
  const listening = await new Promise<boolean>((resolve) => {
    server.once("error", (err) => {
      o.logger.error({ err, port: o.port }, "worker metrics not served: the port is not available");
      resolve(false);
    });
    server.listen(o.port, o.host, () => resolve(true));
  });
  if (!listening) return undefined;
  const port = (server.address() as { port: number }).port;
  o.logger.info({ port }, "worker metrics served at /metrics");
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
