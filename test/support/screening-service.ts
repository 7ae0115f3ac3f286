// An operator's address-screening service, as SCREENING_URL reaches it, whose answer a test
// switches: a clear verdict, or one of the ways a service fails to give one (slow, garbage, the
// wrong shape, an error status). Every failing answer carries MARKER, so a test can check that
// nothing the service said is passed on to the facilitator's caller.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export const MARKER = "screening-internal-note-7f3a";

export type ScreeningMode = "allow" | "refuse-payer" | "refuse-payTo" | "slow" | "not-json" | "wrong-shape" | "error";

export interface ScreeningService {
  url: string;
  mode: ScreeningMode;
  /** How long "slow" waits before it allows. */
  slowMs: number;
  /** Every body it was sent, parsed. */
  requests: unknown[];
  close(): Promise<void>;
}

export async function startScreeningService(): Promise<ScreeningService> {
  let server: Server;
  const service: ScreeningService = {
    url: "",
    mode: "allow",
    slowMs: 2_000,
    requests: [],
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
  const json = (status: number, body: unknown) => [status, "application/json", JSON.stringify(body)] as const;
  server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    try {
      service.requests.push(JSON.parse(Buffer.concat(chunks).toString("utf8")));
    } catch {
      service.requests.push(Buffer.concat(chunks).toString("utf8"));
    }
    const mode = service.mode;
    if (mode === "slow") await new Promise((r) => setTimeout(r, service.slowMs));
    const [status, type, body] =
      mode === "allow" || mode === "slow"
        ? json(200, { allow: true })
        : mode === "refuse-payer"
          ? json(200, { allow: false, hit: "payer" })
          : mode === "refuse-payTo"
            ? json(200, { allow: false, hit: "payTo" })
            : mode === "not-json"
              ? ([200, "text/plain", `allow: maybe (${MARKER})`] as const)
              : mode === "wrong-shape"
                ? json(200, { allow: "yes", note: MARKER })
                : json(500, { allow: true, error: MARKER });
    if (!res.destroyed) res.writeHead(status, { "content-type": type }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  service.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/screen`;
  return service;
}
