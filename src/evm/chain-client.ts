// One viem public client per enabled network. Several RPC URLs fail over in order; requests
// issued in the same tick share one JSON-RPC batch, so a verify's reads cost one round trip and
// concurrent verifies coalesce.
import { createPublicClient, fallback, http, type PublicClient } from "viem";
import type { EnabledNetwork } from "../config/config.js";

export interface ChainClientOptions {
  timeoutMs?: number;
  batchSize?: number;
}

export function createChainClient(network: EnabledNetwork, opts: ChainClientOptions = {}): PublicClient {
  const transports = network.rpcUrls.map((url) =>
    http(url, { batch: { batchSize: opts.batchSize ?? 100, wait: 0 }, retryCount: 0, timeout: opts.timeoutMs ?? 10_000 }),
  );
  return createPublicClient({
    transport: transports.length === 1 ? transports[0]! : fallback(transports, { retryCount: 1 }),
    // Nothing polls here; receipts are awaited by the worker with its own bounds.
    pollingInterval: 1_000,
  }) as PublicClient;
}
