import type { FastifyInstance } from "fastify";
import type { SupportedKind } from "../../schemes/scheme.js";

export interface SupportedRouteDeps {
  /** One kind per method, network and protocol version: the official middleware matches them literally. */
  kinds(): Promise<SupportedKind[]>;
  /** The extensions the enabled methods take part in (e.g. eip2612GasSponsoring). */
  extensions: string[];
  relayerAddresses(): Promise<string[]>;
}

export async function supportedRoute(app: FastifyInstance, deps: SupportedRouteDeps): Promise<void> {
  app.get("/supported", async () => {
    const [kinds, signers] = await Promise.all([deps.kinds(), deps.relayerAddresses()]);
    return { kinds, extensions: deps.extensions, signers: { "eip155:*": signers } };
  });
}
