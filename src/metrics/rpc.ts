// RPC requests as metrics, by method and endpoint, so a failover shows: the endpoint is the URL's
// host only, because provider URLs carry API keys in their paths and queries.
import { Counter, Histogram, type Registry } from "prom-client";

export interface RpcObservation {
  endpoint: string;
  method: string;
  ok: boolean;
  seconds: number;
}

export type RpcObserver = (o: RpcObservation) => void;

export function rpcMetrics(registry: Registry): RpcObserver {
  const requests = new Counter({
    name: "x402_rpc_requests_total",
    help: "JSON-RPC requests by method and endpoint host",
    labelNames: ["endpoint", "method"],
    registers: [registry],
  });
  const errors = new Counter({
    name: "x402_rpc_errors_total",
    help: "JSON-RPC requests that got no usable answer from that endpoint (node error, timeout, unreachable)",
    labelNames: ["endpoint", "method"],
    registers: [registry],
  });
  const latency = new Histogram({
    name: "x402_rpc_request_duration_seconds",
    help: "Round trip of the batch a request went out in",
    labelNames: ["endpoint"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  return ({ endpoint, method, ok, seconds }) => {
    // Method names come from our own code, but are bounded anyway against a surprise.
    const m = /^[a-z_]+$/i.test(method) && method.length <= 48 ? method : "other";
    requests.inc({ endpoint, method: m });
    if (!ok) errors.inc({ endpoint, method: m });
    latency.observe({ endpoint }, seconds);
  };
}
