// A catalog entry from a payment that declared the `bazaar` extension: the official extension
// code validates the declaration (Ajv, as the official facilitator does) and finds the resource;
// what is kept is sanitized (sanitize.ts). Runs in the catalog writer, after the answer, never on
// the request path: validating a merchant's schema costs milliseconds.
import { createHash } from "node:crypto";
import {
  extractDiscoveryInfo,
  extractDiscoveryInfoV1,
  sanitizeResourceServiceMetadata,
  validateDiscoveryExtension,
} from "@x402/extensions/bazaar";
import type { FacilitatorRequest } from "../x402/wire.js";
import { boundedJson, httpUrl, LIMITS, mimeType, plainText, safeLabel } from "./sanitize.js";

export interface CatalogEntry {
  /** sha256 of type, resource, tool, payTo, version and API key: one merchant's entry is never another's. */
  key: string;
  type: "http" | "mcp";
  resource: string;
  toolName?: string;
  method?: string;
  payTo: string;
  x402Version: 1 | 2;
  /** The accepted requirements by `<scheme>|<network>|<asset>`: a resource paid several ways lists each. */
  accepts: Record<string, unknown>;
  description?: string;
  mimeType?: string;
  serviceName?: string;
  tags?: string[];
  iconUrl?: string;
  bazaar: { info: unknown; schema: unknown };
}

/** Declarations larger than this are not even validated. */
const MAX_DECLARATION_BYTES = 65_536;

type Discovered = NonNullable<ReturnType<typeof extractDiscoveryInfo>>;

function discover(req: FacilitatorRequest): { found: Discovered; schema: unknown } | undefined {
  const payload = req.paymentPayload as Record<string, unknown> & { extensions?: Record<string, unknown> };
  if (req.version === 1) {
    const info = extractDiscoveryInfoV1(req.paymentRequirements as never);
    if (!info) return undefined;
    const found = extractDiscoveryInfo(payload as never, req.paymentRequirements as never, false);
    return found ? { found, schema: (found.extensions as { bazaar?: { schema?: unknown } } | undefined)?.bazaar?.schema ?? {} } : undefined;
  }
  const declared = payload.extensions?.bazaar as { info?: unknown; schema?: unknown } | undefined;
  if (!declared || typeof declared !== "object") return undefined;
  if (JSON.stringify(declared).length > MAX_DECLARATION_BYTES) return undefined;
  if (!validateDiscoveryExtension(declared as never).valid) return undefined;
  const found = extractDiscoveryInfo(payload as never, req.paymentRequirements as never, false);
  return found ? { found, schema: declared.schema } : undefined;
}

/** The entry a verified payment contributes, or undefined when it declares nothing usable. */
export function catalogEntryOf(req: FacilitatorRequest, apiKeyId?: string): CatalogEntry | undefined {
  let discovered: ReturnType<typeof discover>;
  try {
    discovered = discover(req);
  } catch {
    return undefined; // an unparsable resource URL, a schema Ajv cannot compile
  }
  if (!discovered) return undefined;
  const { found, schema } = discovered;
  const url = httpUrl(found.resourceUrl);
  const info = boundedJson(found.discoveryInfo);
  const cleanSchema = boundedJson(schema);
  if (!url || info === undefined || cleanSchema === undefined) return undefined;
  const type = "toolName" in found ? "mcp" : "http";
  const toolName = "toolName" in found ? plainText(found.toolName, LIMITS.toolName) : undefined;
  if (type === "mcp" && !toolName) return undefined;
  const r = req.paymentRequirements;
  // EVM addresses compare case-insensitively: kept lower case, as the ledger keeps them.
  const payTo = r.payTo.startsWith("0x") ? r.payTo.toLowerCase() : r.payTo;
  const resource = url.toString();
  // HTML-capable labels go before the official sanitizer keeps its first five.
  // The declared list, not the extraction's: that one is already cut to five, unsafe tags included.
  const rawTags = req.version === 2 ? (req.paymentPayload as { resource?: { tags?: unknown } }).resource?.tags : undefined;
  const meta = sanitizeResourceServiceMetadata({
    ...found,
    tags: Array.isArray(rawTags) ? rawTags.filter((t) => typeof t === "string" && safeLabel(t)) : undefined,
  } as never);
  const icon = meta.iconUrl ? httpUrl(meta.iconUrl) : undefined;
  const accepts = boundedJson(r);
  if (accepts === undefined) return undefined;
  return {
    // The version too: v1 and v2 requirements have different shapes and are listed apart.
    // And the API key that settled it, when the api is keyed: one resource server's words are never
    // replaced through another's key.
    key: createHash("sha256")
      .update(JSON.stringify([type, resource, toolName ?? "", payTo, req.version, apiKeyId ?? ""]))
      .digest("hex"),
    type,
    resource,
    toolName,
    method: "method" in found && typeof found.method === "string" ? plainText(found.method, 16) : undefined,
    payTo,
    x402Version: req.version,
    accepts: { [`${r.scheme}|${r.network}|${r.asset}`]: accepts },
    description: plainText(found.description, LIMITS.description),
    mimeType: mimeType(found.mimeType),
    serviceName: meta.serviceName && safeLabel(meta.serviceName) ? meta.serviceName : undefined,
    tags: meta.tags?.length ? meta.tags : undefined,
    // Served as the parser writes it back: anything odd in it percent-encoded.
    iconUrl: icon?.href,
    bazaar: { info, schema: cleanSchema },
  };
}
