// `bazaar` declarations as a resource server sends them, built with the official extension code:
// declareDiscoveryExtension, then enriched with the request's method by the official resource
// server extension (what @x402/express does before the 402 goes out).
import { bazaarResourceServerExtension, declareDiscoveryExtension, type DeclareDiscoveryExtensionInput } from "@x402/extensions/bazaar";

export interface BazaarDeclaration {
  info: Record<string, unknown>;
  schema: Record<string, unknown>;
}

/** A declaration as a resource server sends it: declared, then given the request's method by the official server extension. */
export function declared(config: DeclareDiscoveryExtensionInput, method = "GET"): BazaarDeclaration {
  const { bazaar } = declareDiscoveryExtension(config);
  return bazaarResourceServerExtension.enrichDeclaration!(bazaar, { method, adapter: { getPath: () => "/weather" } }) as BazaarDeclaration;
}

/** A GET weather route: a query parameter `city` and an example answer. */
export const WEATHER_DECLARATION = declared({
  input: { city: "Paris" },
  inputSchema: { properties: { city: { type: "string" } } },
  output: { example: { forecast: "sunny" } },
});
