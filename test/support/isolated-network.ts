// A network of its own for one test file. Every file of a run shares one database, and every
// worker's reconciler sweeps *all* open rows of that database: two files settling on chain 84532
// (each on its own anvil) would pick up each other's rows and share one relayer_nonces lane.
// A file that kills workers, leaves rows open for seconds and counts relayer nonces therefore
// runs its anvil under a chain id nobody else uses, declared through NETWORKS_FILE; other files'
// workers skip its rows ("a network this worker does not serve") and vice versa.
import { randomInt } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestChain } from "./chain.js";

/** A chain id far from every real and built-in one, random per file. */
export const privateChainId = (): number => 3_100_000 + randomInt(0, 800_000);

export interface IsolatedNetwork {
  name: string;
  /** CAIP-2 id, what v2 bodies carry as `network`. */
  caip2: string;
  /** Env to merge into the facilitator's: NETWORKS_FILE, the network's RPC URL, base-sepolia off. */
  env: Record<string, string>;
  remove(): void;
}

export function isolatedNetwork(chain: TestChain, name: string): IsolatedNetwork {
  const file = join(tmpdir(), `x402-${name}-${process.pid}-${Date.now()}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      networks: [
        {
          name,
          chainId: chain.chainId,
          v1: false,
          confirmations: 1,
          assets: [{ address: chain.usdc.address, name: "USDC", version: "2", decimals: 6, symbol: "USDC" }],
        },
      ],
    }),
  );
  const suffix = name.toUpperCase().replace(/-/g, "_");
  return {
    name,
    caip2: `eip155:${chain.chainId}`,
    // An empty value means "not set" to the config loader: testEnv's base-sepolia URL is switched off.
    env: { NETWORKS_FILE: file, RPC_URL_BASE_SEPOLIA: "", [`RPC_URL_${suffix}`]: chain.rpcUrl },
    remove: () => rmSync(file, { force: true }),
  };
}
