// A minimal node:http reverse proxy in front of our facilitator, for two jobs:
//  - serving it under a path prefix (our Fastify app has no base-path option, so a hosted
//    "https://host/facilitator" deployment needs something in front that strips the prefix);
//  - recording what the official middleware actually sends and receives (paths, headers,
//    bodies), and letting a test hold an answer back before the middleware sees it.
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface ProxiedCall {
  method: string;
  /** The path the middleware asked for, prefix included. */
  path: string;
  /** The path forwarded to our api (prefix stripped). */
  forwardedPath: string;
  headers: Record<string, string | string[] | undefined>;
  requestBody: any;
  status: number;
  responseBody: any;
}

export interface FacilitatorProxy {
  /** The base URL to give the middleware (ends with the prefix, if any). */
  url: string;
  calls: ProxiedCall[];
  callsTo(path: "/verify" | "/settle" | "/supported"): ProxiedCall[];
  close(): Promise<void>;
}

export interface ProxyOptions {
  /** e.g. "/facilitator": only requests under it are forwarded, with the prefix removed. */
  prefix?: string;
  /** Runs after our api answered and before the answer goes back; may delay it. */
  beforeReply?(call: ProxiedCall): Promise<void> | void;
}

const HOP_BY_HOP = new Set(["host", "connection", "content-length", "transfer-encoding", "keep-alive", "accept-encoding"]);

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const parse = (text: string) => {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
};

export async function startFacilitatorProxy(target: string, opts: ProxyOptions = {}): Promise<FacilitatorProxy> {
  const prefix = (opts.prefix ?? "").replace(/\/+$/, "");
  const calls: ProxiedCall[] = [];
  const server: Server = createServer(async (req, res) => {
    try {
      const path = req.url ?? "/";
      if (prefix && !(path === prefix || path.startsWith(`${prefix}/`) || path.startsWith(`${prefix}?`))) {
        res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: "outside the proxy prefix" }));
        return;
      }
      const forwardedPath = path.slice(prefix.length) || "/";
      const body = await readBody(req);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(k) && typeof v === "string") headers[k] = v;
      const upstream = await fetch(`${target}${forwardedPath}`, {
        method: req.method,
        headers,
        body: req.method === "GET" || req.method === "HEAD" ? undefined : new Uint8Array(body),
      });
      const text = await upstream.text();
      const call: ProxiedCall = {
        method: req.method ?? "GET",
        path,
        forwardedPath,
        headers: req.headers,
        requestBody: body.length ? parse(body.toString("utf8")) : undefined,
        status: upstream.status,
        responseBody: parse(text),
      };
      calls.push(call);
      await opts.beforeReply?.(call);
      const out: Record<string, string> = {};
      upstream.headers.forEach((v, k) => {
        if (!HOP_BY_HOP.has(k) && k !== "content-encoding") out[k] = v;
      });
      res.writeHead(upstream.status, out).end(text);
    } catch (err) {
      res.writeHead(502, { "content-type": "application/json" }).end(JSON.stringify({ error: String(err) }));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${prefix}`,
    calls,
    callsTo: (p) => calls.filter((c) => c.forwardedPath.split("?")[0] === p),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections?.();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
}
