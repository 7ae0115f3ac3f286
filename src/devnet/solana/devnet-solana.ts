// The devnet's Solana: a SIMULATED cluster (LiteSVM behind a Solana JSON-RPC server, not a
// validator) presenting Solana devnet's genesis hash, with USDC at the devnet mint, a fee payer
// holding SOL, a buyer holding USDC and no SOL, and a merchant's USDC account. Every key is
// made fresh at start; none is ever used on a real cluster.
import type { Address } from "@solana/kit";
import { feePayerFromSecret, newSecretKey } from "../../svm/fee-payer-keys.js";
import { toBase58 } from "../../svm/wire-transaction.js";
import { createLocalCluster, SOLANA_GENESIS_HASHES } from "./local-cluster.js";
import { startLocalSolanaRpc } from "./rpc-server.js";

export const SOLANA_DEVNET_USDC = "4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU" as Address;
/** A fresh key pair: its address, and its 64-byte secret in base58 (what operators configure). */
function freshKey(): { address: Address; secret: string } {
  const secret = newSecretKey();
  return { address: feePayerFromSecret(secret).address as Address, secret: toBase58(secret) };
}

export async function startDevnetSolana(o: { host: string; port: number }) {
  const cluster = createLocalCluster({ genesisHash: SOLANA_GENESIS_HASHES.devnet });
  await cluster.createMint({ address: SOLANA_DEVNET_USDC, decimals: 6 });
  const server = await startLocalSolanaRpc(cluster, { host: o.host, port: o.port });
  const feePayer = freshKey();
  const buyer = freshKey();
  const merchant = freshKey();
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
