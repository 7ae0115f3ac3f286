// SIMULATED Solana JSON-RPC endpoint: plain Solana JSON-RPC 2.0 over HTTP in front of the LiteSVM
// cluster of local-cluster.ts, not a validator. Request and response shapes follow the Solana RPC
// spec (and what @solana/kit's createSolanaRpc sends and expects), so the code under test talks to
// it exactly as it would to a real node. This file is the HTTP side and the node's lifecycle; the
// methods are in methods-*.ts. `faults` lets tests make the node misbehave the ways real ones do.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { jsonRpcResponder } from "./json-rpc.js";
import type { LocalCluster } from "./local-cluster.js";
import { accountMethods } from "./methods-accounts.js";
import { clusterMethods } from "./methods-cluster.js";
import { transactionMethods, type SendFaults } from "./methods-transactions.js";
import { DropConnection } from "./rpc-errors.js";
import { methodContext } from "./rpc-params.js";

const MAX_BODY_BYTES = 1 << 20;

export interface LocalSolanaRpcOptions {
  /** Default 0: any free port (kept across stop/restart). */
  port?: number;
  host?: string;
}

export type LocalSolanaRpc = Awaited<ReturnType<typeof startLocalSolanaRpc>>;

export async function startLocalSolanaRpc(cluster: LocalCluster, opts: LocalSolanaRpcOptions = {}) {
  const host = opts.host ?? "127.0.0.1";
  let port = opts.port ?? 0;
  let server: Server | null = null;
  const sockets = new Set<Socket>();
  const calls = new Map<string, number>();
  const sendFaults: SendFaults = { dropsLeft: 0, silentLandings: [] };
  const ctx = methodContext(cluster);
  const respond = jsonRpcResponder({ ...clusterMethods(ctx), ...accountMethods(ctx), ...transactionMethods(ctx, sendFaults) }, calls);

  async function readBody(req: IncomingMessage): Promise<string | null> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY_BYTES) return null;
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks).toString("utf8");
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    if (req.method === "GET" && req.url === "/health") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok");
      return;
    }
    if (req.method !== "POST") {
      res.writeHead(405, { allow: "POST" }).end();
      return;
    }
    const body = await readBody(req);
    if (body === null) {
      res.writeHead(413).end();
      return;
    }
    let text: string;
    try {
      text = await respond(body);
    } catch (e) {
      if (e instanceof DropConnection) {
        req.socket.destroy();
        return;
      }
      throw e;
    }
    res.writeHead(200, { "content-type": "application/json" }).end(text);
  }

  async function listen() {
    const s = createServer((req, res) => {
      handle(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(500).end();
        else res.destroy();
      });
    });
    s.on("connection", (socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
    });
    s.on("clientError", (_err, socket) => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      s.once("error", reject);
      s.listen(port, host, () => {
        s.off("error", reject);
        resolve();
      });
    });
    port = (s.address() as AddressInfo).port;
    server = s;
  }

  /** Closes the port and cuts open connections: new requests are refused, in-flight ones reset. */
  async function stop() {
    const s = server;
    if (!s) return;
    server = null;
    const closed = new Promise<void>((resolve) => s.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    await closed;
  }

  /** Listens again on the same port after stop(). */
  async function restart() {
    if (!server) await listen();
  }

  await listen();
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;

  const faults = {
    stop,
    restart,
    /** The next n sendTransaction calls answer with the signature, but the transaction is lost (it never lands). */
    dropSends(n = 1) {
      sendFaults.dropsLeft += n;
    },
    /**
     * The next n sendTransaction calls are executed as usual (they land when valid), but the caller
     * never learns it: "drop" hangs up without an answer, "error" answers JSON-RPC -32603.
     */
    landSilently(n = 1, how: "drop" | "error" = "drop") {
      for (let i = 0; i < n; i++) sendFaults.silentLandings.push(how);
    },
    /** Freezes the slot clock: nothing confirms or finalizes, no blockhash expires. */
    pauseSlots: () => cluster.pauseSlots(),
    resumeSlots: () => cluster.resumeSlots(),
    /** Cancels pending dropSends / landSilently. */
    clear() {
      sendFaults.dropsLeft = 0;
      sendFaults.silentLandings.length = 0;
    },
  };

  return {
    url,
    port,
    stop,
    restart,
    faults,
    /** How many times a method was called (tests assert, e.g., that a send was not repeated). */
    callCount: (method: string) => calls.get(method) ?? 0,
  };
}
