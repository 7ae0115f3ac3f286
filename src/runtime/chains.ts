// Chain clients for the enabled networks, and the start-up check that each RPC serves the chain
// the config says it does (a wrong chain id would sign and verify against the wrong domain).
import type { PublicClient } from "viem";
import type { EnabledNetwork } from "../config/config.js";
import { ConfigError } from "../config/config.js";
import { envSuffix } from "../config/networks.js";
import { createChainClient } from "../evm/chain-client.js";
import type { RpcObserver } from "../metrics/rpc.js";
import { scrubUrls } from "../logger.js";
import type { NetworkLookup } from "../config/config.js";
import type { EnabledSvmNetwork } from "../config/solana-networks.js";
import type { SvmRpc } from "../svm/rpc.js";

export interface Chains extends NetworkLookup {
  networks: readonly EnabledNetwork[];
  clientFor(chainId: number): PublicClient;
  svmNetworks: readonly EnabledSvmNetwork[];
  svmRpcFor(network: EnabledSvmNetwork): SvmRpc;
}

export function createChains(
  networks: readonly EnabledNetwork[],
  opts: { observe?: RpcObserver; svmNetworks?: readonly EnabledSvmNetwork[]; svmRpc?: (urls: readonly string[]) => SvmRpc } = {},
): Chains {
  const clients = new Map(networks.map((n) => [n.chainId, createChainClient(n, { observe: opts.observe })]));
  const v1 = new Map(networks.filter((n) => n.v1).map((n) => [n.name, n]));
  const caip = new Map<string, EnabledNetwork>(networks.map((n) => [n.caip2, n]));
  const svmNetworks = opts.svmNetworks ?? [];
  const svmByName = new Map(svmNetworks.flatMap((n) => [[n.name, n] as const, [n.caip2, n] as const]));
  if (svmNetworks.length && !opts.svmRpc) throw new Error("Solana clusters are enabled but the Solana side was not loaded");
  const svmRpcs = new Map(svmNetworks.map((n) => [n.name, opts.svmRpc!(n.rpcUrls)]));
  return {
    networks,
    byV1Name: (name) => v1.get(name),
    byCaip2: (id) => caip.get(id),
    svm: (name) => svmByName.get(name),
    svmNetworks,
    svmRpcFor(network) {
      const rpc = svmRpcs.get(network.name);
      if (!rpc) throw new Error(`Solana cluster ${network.name} is not enabled`);
      return rpc;
    },
    clientFor(chainId) {
      const c = clients.get(chainId);
      if (!c) throw new Error(`chain ${chainId} is not enabled`);
      return c;
    },
  };
}

/**
 * Asks every URL of every network for its chain id. A URL serving another chain stops the start
 * (it would verify and sign against the wrong domain); a silent one is only a warning as long as
 * another URL of that network answers, since failover exists for exactly that.
 */
export async function assertChainIds(networks: readonly EnabledNetwork[], warn: (msg: string) => void = () => {}): Promise<void> {
  await Promise.all(
    networks.map(async (n) => {
      const variable = `RPC_URL_${envSuffix(n.name)}`;
      const answers = await Promise.all(
        n.rpcUrls.map(async (url, i) => {
          try {
            return { i, id: await createChainClient({ ...n, rpcUrls: [url] }, { timeoutMs: 5_000 }).getChainId() };
          } catch (err) {
            return { i, error: scrubUrls((err as Error).message.split("\n")[0] ?? "") };
          }
        }),
      );
      for (const a of answers) {
        if (a.id !== undefined && a.id !== n.chainId)
          throw new ConfigError(variable, `URL #${a.i + 1} serves chain ${a.id}, but ${n.name} is chain ${n.chainId}`);
      }
      const silent = answers.filter((a) => a.id === undefined);
      if (silent.length === answers.length) throw new ConfigError(variable, `no URL answered eth_chainId (${silent[0]?.error})`);
      for (const a of silent) warn(`${variable}: URL #${a.i + 1} did not answer eth_chainId (${a.error}); failing over to the others`);
    }),
  );
}

/**
 * Readiness of a network's relayers: every key's gas against the floor. Not ready only when no
 * key can pay (the others keep settling while one is topped up), but each low key is named.
 */
export async function relayerGas(
  client: PublicClient,
  net: EnabledNetwork,
  addresses: readonly string[],
): Promise<Record<string, unknown>> {
  if (!addresses.length) throw new Error("no relayer registered yet (is the worker running?)");
  const balances = await Promise.all(
    addresses.map(async (a) => ({ address: a, balance: await client.getBalance({ address: a as `0x${string}` }) })),
  );
  const low = balances.filter((b) => b.balance < net.minRelayerBalance).map((b) => ({ address: b.address, balance: b.balance.toString() }));
  if (low.length === balances.length)
    throw new Error(
      `every relayer is below the gas floor of ${net.minRelayerBalance} wei: ${low.map((l) => `${l.address}=${l.balance}`).join(", ")}`,
    );
  return { funded: balances.length - low.length, low };
}
