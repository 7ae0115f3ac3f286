// Writes a NETWORKS_FILE for a test: Base Sepolia with the given settings (and the test
// chain's USDC on its allowlist unless assets are given).
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestChain } from "./chain.js";

export function baseSepoliaFile(chain: TestChain, settings: Record<string, unknown> = {}): string {
  const file = join(tmpdir(), `networks-${process.pid}-${Math.random().toString(36).slice(2)}.json`);
  const assets = [{ address: chain.usdc.address, name: "USDC", version: "2", decimals: 6, symbol: "USDC" }];
  writeFileSync(file, JSON.stringify({ networks: [{ name: "base-sepolia", chainId: 84532, assets, ...settings }] }));
  return file;
}
