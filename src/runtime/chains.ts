// Chain clients for the enabled networks, and the start-up check that each RPC serves the chain
// the config says it does (a wrong chain id would sign and verify against the wrong domain).
import type { PublicClient } from "viem";
import type { EnabledNetwork } from "../config/config.js";
import { ConfigError } from "../config/config.js";
import { envSuffix } from "../config/networks.js";
import { createChainClient } from "../evm/chain-client.js";
import { scrubUrls } from "../logger.js";
import type { NetworkLookup } from "../verify/intent.js";

export interface Chains extends NetworkLookup {
  networks: readonly EnabledNetwork[];
  clientFor(chainId: number): PublicClient;
}

export function createChains(networks: readonly EnabledNetwork[]): Chains {
  const clients = new Map(networks.map((n) => [n.chainId, createChainClient(n)]));
  const v1 = new Map(networks.filter((n) => n.v1).map((n) => [n.name, n]));
  const caip = new Map<string, EnabledNetwork>(networks.map((n) => [n.caip2, n]));
  return {
    networks,
    byV1Name: (name) => v1.get(name),
    byCaip2: (id) => caip.get(id),
    clientFor(chainId) {
      const c = clients.get(chainId);
      if (!c) throw new Error(`chain ${chainId} is not enabled`);
      return c;
    },
  };
}

/** Asks every URL of every network for its chain id; any mismatch or silence stops the start. */
export async function assertChainIds(networks: readonly EnabledNetwork[]): Promise<void> {
  await Promise.all(
    networks.flatMap((n) =>
      n.rpcUrls.map(async (url, i) => {
        const variable = `RPC_URL_${envSuffix(n.name)}`;
        const single = createChainClient({ ...n, rpcUrls: [url] }, { timeoutMs: 5_000 });
        let id: number;
        try {
          id = await single.getChainId();
        } catch (err) {
          throw new ConfigError(variable, `URL #${i + 1} did not answer eth_chainId (${scrubUrls((err as Error).message.split("\n")[0] ?? "")})`);
        }
        if (id !== n.chainId) throw new ConfigError(variable, `URL #${i + 1} serves chain ${id}, but ${n.name} is chain ${n.chainId}`);
      }),
    ),
  );
}
