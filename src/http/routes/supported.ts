import type { FastifyInstance } from "fastify";
import type { SupportedKind } from "../../schemes/scheme.js";

export interface SupportedRouteDeps {
  /** One kind per method, network and protocol version: the official middleware matches them literally. */
  kinds(): Promise<SupportedKind[]>;
  /** The extensions the enabled methods take part in (e.g. eip2612GasSponsoring). */
  extensions: string[];
  relayerAddresses(): Promise<string[]>;
  feePayers?(): Promise<string[]>;
}

export async function supportedRoute(app: FastifyInstance, deps: SupportedRouteDeps): Promise<void> {
  app.get("/supported", async () => {
    const [kinds, relayers, feePayers] = await Promise.all([deps.kinds(), deps.relayerAddresses(), deps.feePayers?.() ?? []]);
    // Each family is listed only when it has signers (a facilitator without Solana says nothing of it).
    const signers: Record<string, string[]> = { "eip155:*": relayers };
    if (feePayers.length) signers["solana:*"] = feePayers;
    return { kinds, extensions: deps.extensions, signers };
  });
}
