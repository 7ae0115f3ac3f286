// The devnet's Solana: a SIMULATED cluster (LiteSVM behind a Solana JSON-RPC server, not a
// validator) presenting Solana devnet's genesis hash, with USDC at the devnet mint, a fee payer
// holding SOL, a buyer holding USDC and no SOL, and a merchant's USDC account. Every key is
// made fresh at start; none is ever used on a real cluster.
import { createKeyPairSignerFromBytes, getBase58Decoder, type Address } from "@solana/kit";
import { randomBytes, createPrivateKey, createPublicKey } from "node:crypto";
import { createLocalCluster, SOLANA_GENESIS_HASHES } from "./local-cluster.js";
import { startLocalSolanaRpc } from "./rpc-server.js";

export const SOLANA_DEVNET_USDC = "4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU" as Address;
const PKCS8_ED25519 = Buffer.from("302e020100300506032b657004220420", "hex");

/** A fresh key pair as the 64 bytes operators and solana-keygen use (seed ‖ public key), base58. */
async function freshKey(): Promise<{ address: Address; secret: string }> {
  const seed = randomBytes(32);
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, seed]), format: "der", type: "pkcs8" });
  const publicKey = createPublicKey(key).export({ format: "der", type: "spki" }).subarray(-32);
  const bytes = new Uint8Array(Buffer.concat([seed, publicKey]));
  const signer = await createKeyPairSignerFromBytes(bytes);
  return { address: signer.address, secret: getBase58Decoder().decode(bytes) };
}

export async function startDevnetSolana(o: { host: string; port: number }) {
  const cluster = createLocalCluster({ genesisHash: SOLANA_GENESIS_HASHES.devnet });
  await cluster.createMint({ address: SOLANA_DEVNET_USDC, decimals: 6 });
  const server = await startLocalSolanaRpc(cluster, { host: o.host, port: o.port });
  const feePayer = await freshKey();
  const buyer = await freshKey();
  const merchant = await freshKey();
  cluster.airdrop(feePayer.address, 10_000_000_000n);
  await cluster.fundToken({ mint: SOLANA_DEVNET_USDC, owner: buyer.address, amount: 100_000_000n });
  await cluster.fundToken({ mint: SOLANA_DEVNET_USDC, owner: merchant.address, amount: 0n });
  return {
    url: server.url,
    port: server.port,
    feePayer,
    buyer,
    merchant: merchant.address,
    async stop() {
      await server.stop();
      cluster.close();
    },
  };
}
