// The start-up check for Solana clusters: every URL must serve the cluster its variable names.
// A cluster's CAIP-2 reference is the start of its genesis hash, so a devnet URL under
// RPC_URL_SOLANA (mainnet) stops the start instead of signing against the wrong cluster.
import { ConfigError } from "../config/config.js";
import type { EnabledSvmNetwork } from "../config/solana-networks.js";
import { scrubUrls } from "../logger.js";
import { createSvmRpc } from "./rpc.js";

export async function assertSvmClusters(networks: readonly EnabledSvmNetwork[], warn: (msg: string) => void = () => {}): Promise<void> {
  await Promise.all(
    networks.map(async (n) => {
      const variable = `RPC_URL_${n.name.toUpperCase().replace(/-/g, "_")}`;
      const reference = n.caip2.slice("solana:".length);
      const answers = await Promise.all(
        n.rpcUrls.map(async (url, i) => {
          try {
            return { i, genesis: await createSvmRpc([url], { timeoutMs: 5_000 }).getGenesisHash().send() };
          } catch (err) {
            return { i, error: scrubUrls((err as Error).message.split("\n")[0] ?? "") };
          }
        }),
      );
      for (const a of answers) {
        if (a.genesis !== undefined && !a.genesis.startsWith(reference))
          throw new ConfigError(variable, `URL #${a.i + 1} serves the cluster with genesis ${a.genesis}, not ${n.name}`);
      }
      const silent = answers.filter((a) => a.genesis === undefined);
      if (silent.length === answers.length) throw new ConfigError(variable, `no URL answered getGenesisHash (${silent[0]?.error})`);
      for (const a of silent) warn(`${variable}: URL #${a.i + 1} did not answer getGenesisHash (${a.error}); failing over to the others`);
    }),
  );
}
