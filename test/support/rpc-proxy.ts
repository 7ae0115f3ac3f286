// A JSON-RPC proxy in front of anvil whose behaviour a test switches: pass through, answer
// HTTP 500, or refuse connections (closed port). It stands for a flaky RPC provider, and it
// records every call it forwards, as a provider's bill would.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export type RpcMode = "ok" | "error500" | "down";

export interface RpcCall {
  method: string;
  params: unknown[];
}

export interface RpcProxy {
  url: string;
  mode: RpcMode;
  requests: number;
  /** Every JSON-RPC call forwarded (the items of a batch one by one). */
  calls: RpcCall[];
  /** Forward eth_call without its state overrides, as a node that ignores them would run it. */
  dropStateOverrides: boolean;
  close(): Promise<void>;
}

export async function startRpcProxy(target: string): Promise<RpcProxy> {
  let server: Server;
  const proxy: RpcProxy = {
    url: "",
    mode: "ok",
    requests: 0,
    calls: [],
    dropStateOverrides: false,
    close: () => new Promise((r) => server.close(() => r())),
  };
  server = createServer(async (req, res) => {
    proxy.requests++;
    if (proxy.mode === "down") return req.socket.destroy();
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (proxy.mode === "error500") return res.writeHead(500, { "content-type": "text/plain" }).end("upstream exploded");
    let body = Buffer.concat(chunks);
    try {
      const sent = JSON.parse(body.toString("utf8")) as RpcCall | RpcCall[];
      const items = Array.isArray(sent) ? sent : [sent];
      proxy.calls.push(...items.map(({ method, params }) => ({ method, params })));
      if (proxy.dropStateOverrides) {
        for (const c of items) if (c.method === "eth_call") c.params = c.params.slice(0, 2);
        body = Buffer.from(JSON.stringify(sent));
      }
    } catch {
      // not JSON: forwarded as it is, for the node to refuse
    }
    try {
      const upstream = await fetch(target, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      });
      res.writeHead(upstream.status, { "content-type": "application/json" }).end(await upstream.text());
    } catch {
      req.socket.destroy();
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return proxy;
}

/** A URL nobody listens on. */
export const CLOSED_PORT_URL = "http://127.0.0.1:9";
