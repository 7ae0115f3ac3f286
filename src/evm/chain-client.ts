// One viem public client per enabled network. Several RPC URLs fail over in order; requests
// issued in the same tick share one JSON-RPC batch, so a verify's reads cost one round trip and
// concurrent verifies coalesce.
import { createPublicClient, type PublicClient } from "viem";
import type { EnabledNetwork } from "../config/config.js";
import type { RpcObserver } from "../metrics/rpc.js";
import { rpcTransport } from "./rpc-transport.js";

export interface ChainClientOptions {
  timeoutMs?: number;
  batchSize?: number;
  observe?: RpcObserver;
}

export function createChainClient(network: EnabledNetwork, opts: ChainClientOptions = {}): PublicClient {
  return createPublicClient({
    transport: rpcTransport(network.rpcUrls, { timeoutMs: opts.timeoutMs, maxBatch: opts.batchSize, observe: opts.observe }),
    // Nothing polls here; receipts are awaited by the worker with its own bounds.
    pollingInterval: 1_000,
  }) as PublicClient;
}
