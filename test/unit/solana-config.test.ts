// Solana configuration: clusters enabled by their RPC variables, mints added through
// NETWORKS_FILE, and fee payer keys in both operator formats, each refusal naming its variable.
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { generateKeyPairSigner } from "@solana/kit";
import { loadConfig } from "../../src/config/config.js";
import { feePayerFromSecret, loadFeePayerKeys } from "../../src/svm/fee-payer-keys.js";
import { ed25519Valid } from "../../src/svm/signatures.js";
import { generateFeePayerKey } from "../support/solana.js";

const base = { DATABASE_URL: "postgres://u@localhost/db", REDIS_URL: "redis://localhost:6379" };
const file = (content: unknown) => {
  const path = join(tmpdir(), `x402-solana-networks-${process.pid}-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(path, JSON.stringify(content));
  return path;
};

describe("Solana clusters", () => {
  it("are enabled by RPC_URL_SOLANA_DEVNET and friends, with USDC allowlisted and the official ceilings", () => {
    const c = loadConfig({ ...base, RPC_URL_SOLANA_DEVNET: "http://127.0.0.1:8899, http://127.0.0.1:8900" });
    expect(c.networks).toEqual([]);
    expect(c.svmNetworks).toHaveLength(1);
    expect(c.svmNetworks[0]).toMatchObject({
      name: "solana-devnet",
      caip2: "solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1",
      rpcUrls: ["http://127.0.0.1:8899", "http://127.0.0.1:8900"],
      assets: [{ mint: "4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU", decimals: 6, symbol: "USDC", tokenProgram: "token" }],
      commitment: "confirmed",
      maxComputeUnitPrice: 5_000_000n,
      maxSigners: 2,
    });
    expect(loadConfig({ ...base, RPC_URL_SOLANA: "https://rpc.example" }).svmNetworks[0]!.caip2).toBe(
      "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp",
    );
    expect(() => loadConfig({ ...base, RPC_URL_SOLANA_TESTNET: "not a url" })).toThrow(/^RPC_URL_SOLANA_TESTNET: not an http/);
  });

  it("take SPL and Token-2022 mints and limits from NETWORKS_FILE, and refuse bad entries", () => {
    const mint = "So11111111111111111111111111111111111111112";
    const c = loadConfig({
      ...base,
      RPC_URL_SOLANA_DEVNET: "http://127.0.0.1:8899",
      NETWORKS_FILE: file({
        networks: [],
        solana: [
          {
            name: "solana-devnet",
            assets: [{ mint, decimals: 9, tokenProgram: "token-2022" }],
            maxComputeUnitPrice: "1000",
            commitment: "finalized",
          },
        ],
      }),
    });
    expect(c.svmNetworks[0]!.assets.map((a) => [a.mint, a.tokenProgram])).toEqual([
      ["4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU", "token"],
      [mint, "token-2022"],
    ]);
    expect(c.svmNetworks[0]).toMatchObject({ maxComputeUnitPrice: 1000n, commitment: "finalized" });
    const bad = (solana: unknown) => () => loadConfig({ ...base, NETWORKS_FILE: file({ networks: [], solana }) });
    expect(bad([{ name: "solana-moon" }])).toThrow(/^NETWORKS_FILE: solana\.0\.name: /);
    expect(bad([{ name: "solana", assets: [{ mint: "0xabc", decimals: 6 }] }])).toThrow(
      /^NETWORKS_FILE: solana\.0\.assets\.0\.mint: a base58 mint address$/,
    );
    expect(bad([{ name: "solana", maxComputeUnitPrice: "-1" }])).toThrow(/^NETWORKS_FILE: solana\.0\.maxComputeUnitPrice: /);
  });
});

describe("Solana fee payer keys", () => {
  it("load from base58 or a JSON byte array, several at once, and sign verifiably", async () => {
    const a = await generateFeePayerKey();
    const b = await generateFeePayerKey();
    const payers = loadFeePayerKeys({ inline: `${a.base58}\n${b.json}` });
    expect(payers.map((p) => p.address)).toEqual([a.address, b.address]);
    const message = new TextEncoder().encode("a Solana message");
    const signature = payers[0]!.sign(message);
    expect(ed25519Valid(a.address, signature, message)).toBe(true);
    // Deterministic: a crashed worker signs the same transaction to the same id again.
    expect(Buffer.from(payers[0]!.sign(message)).equals(Buffer.from(signature))).toBe(true);
    expect(ed25519Valid(b.address, signature, message)).toBe(false);
    const path = join(tmpdir(), `x402-fee-payer-${process.pid}.json`);
    writeFileSync(path, b.json);
    expect(loadFeePayerKeys({ file: path }).map((p) => p.address)).toEqual([b.address]);
  });

  it("refuse a malformed key, a key whose halves do not match, or the same key twice, naming the variable and never the key", async () => {
    const a = await generateFeePayerKey();
    const other = await generateKeyPairSigner();
    const bytes = JSON.parse(a.json) as number[];
    const mismatched = JSON.stringify([...bytes.slice(0, 32), ...Array.from(Buffer.from(other.address))].slice(0, 64));
    for (const [inline, pattern] of [
      ["not-base58-0OIl", /^SOLANA_FEE_PAYER_KEY: key #1 is not a Solana secret key/],
      ["[1,2,3]", /^SOLANA_FEE_PAYER_KEY: key #1 is not a Solana secret key/],
      [mismatched, /^SOLANA_FEE_PAYER_KEY: key #1 is not a Solana secret key/],
      [`${a.base58} ${a.json}`, /^SOLANA_FEE_PAYER_KEY: the same key is listed twice$/],
    ] as const) {
      let message = "";
      try {
        loadFeePayerKeys({ inline });
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toMatch(pattern);
      expect(message).not.toContain(a.base58);
    }
    expect(() => loadFeePayerKeys({ file: "/nonexistent-key" })).toThrow(
      /^SOLANA_FEE_PAYER_KEY_FILE: cannot read the key file \(ENOENT\)$/,
    );
    expect(() => feePayerFromSecret(new Uint8Array(32))).toThrow(/64 bytes/);
  });
});
