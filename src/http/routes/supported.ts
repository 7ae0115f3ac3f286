import type { FastifyInstance } from "fastify";
import type { EnabledNetwork } from "../../config/config.js";

export interface SupportedKind {
  x402Version: 1 | 2;
  scheme: "exact";
  network: string;
}

/** One kind per enabled network and protocol version, as the official middleware matches them literally. */
export function supportedKinds(networks: readonly EnabledNetwork[]): SupportedKind[] {
  const v2 = networks.map((n) => ({ x402Version: 2 as const, scheme: "exact" as const, network: n.caip2 }));
  const v1 = networks.filter((n) => n.v1).map((n) => ({ x402Version: 1 as const, scheme: "exact" as const, network: n.name }));
  return [...v2, ...v1];
}

export interface SupportedRouteDeps {
  networks: readonly EnabledNetwork[];
  relayerAddresses(): Promise<string[]>;
}

export async function supportedRoute(app: FastifyInstance, deps: SupportedRouteDeps): Promise<void> {
  const kinds = supportedKinds(deps.networks);
  app.get("/supported", async () => ({
    kinds,
    extensions: [],
    signers: { "eip155:*": await deps.relayerAddresses() },
  }));
}
