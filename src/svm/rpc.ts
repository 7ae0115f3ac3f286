// Solana JSON-RPC for one cluster through @solana/kit, over the cluster's URLs in order: a URL
// that fails (refused, timed out, HTTP error) hands the request to the next, and the last one
// that answered is tried first next time. JSON-RPC errors are answers, not failures: they are
// not retried elsewhere. Nothing here knows which cluster (real or simulated) is behind a URL.
import { createDefaultRpcTransport, createSolanaRpcFromTransport, type RpcTransport } from "@solana/kit";
import { RpcUnavailableError } from "../errors.js";

const REQUEST_TIMEOUT_MS = 10_000;

export function createSvmRpc(urls: readonly string[], opts: { timeoutMs?: number } = {}) {
  if (!urls.length) throw new Error("a Solana cluster needs at least one RPC URL");
  const transports = urls.map((url) => createDefaultRpcTransport({ url: url as `http${string}` }));
  let preferred = 0;
  const failover: RpcTransport = async <T>(config: Parameters<RpcTransport>[0]) => {
    let lastError: unknown;
    for (let i = 0; i < transports.length; i++) {
      const at = (preferred + i) % transports.length;
      const timeout = AbortSignal.timeout(opts.timeoutMs ?? REQUEST_TIMEOUT_MS);
      const signal = config.signal ? AbortSignal.any([config.signal, timeout]) : timeout;
      try {
        const answer = await transports[at]!<T>({ ...config, signal });
        preferred = at;
        return answer;
      } catch (err) {
        if (config.signal?.aborted) throw err;
        lastError = err;
      }
    }
    // Provider URLs carry API keys: the error scrubs them (FacilitatorError does).
    throw new RpcUnavailableError(`no Solana RPC URL answered: ${String((lastError as Error)?.message ?? lastError)}`, lastError);
  };
  return createSolanaRpcFromTransport(failover);
}

export type SvmRpc = ReturnType<typeof createSvmRpc>;
