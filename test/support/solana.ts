// Test helpers for the SIMULATED Solana cluster (LiteSVM behind a Solana JSON-RPC server, not a
// validator): start one with the network's USDC mint in place, make funded buyers, and make fee
// payer keys in the formats an operator configures. Keys are generated per run, never fixed.
import {
  createKeyPairSignerFromBytes,
  createSolanaRpc,
  generateKeyPairSigner,
  getBase58Decoder,
  type Address,
  type KeyPairSigner,
  type Rpc,
  type SolanaRpcApi,
} from "@solana/kit";
import {
  createLocalCluster,
  SOLANA_GENESIS_HASHES,
  type LocalCluster,
  type LocalClusterOptions,
} from "../../src/devnet/solana/local-cluster.js";
import { startLocalSolanaRpc, type LocalSolanaRpc } from "../../src/devnet/solana/rpc-server.js";

export const USDC_MINTS = {
  mainnet: "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v" as Address,
  devnet: "4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU" as Address,
  testnet: "4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU" as Address,
};

export const CAIP2 = {
  mainnet: `solana:${SOLANA_GENESIS_HASHES.mainnet.slice(0, 32)}`,
  devnet: `solana:${SOLANA_GENESIS_HASHES.devnet.slice(0, 32)}`,
  testnet: `solana:${SOLANA_GENESIS_HASHES.testnet.slice(0, 32)}`,
} as const;

export type SolanaNetworkName = keyof typeof SOLANA_GENESIS_HASHES;

export interface LocalSolana {
  cluster: LocalCluster;
  server: LocalSolanaRpc;
  url: string;
  /** A kit client of the server (test-cluster API, so requestAirdrop is typed too). */
  rpc: Rpc<SolanaRpcApi>;
  network: SolanaNetworkName;
  caip2: string;
  usdc: Address;
  close(): Promise<void>;
}

/** A simulated cluster presenting `network`'s genesis hash, with its USDC mint (6 decimals) in place, and its RPC server. */
export async function startLocalSolana(
  opts: Omit<LocalClusterOptions, "genesisHash"> & { network?: SolanaNetworkName; port?: number } = {},
): Promise<LocalSolana> {
  const network = opts.network ?? "devnet";
  const cluster = createLocalCluster({ ...opts, genesisHash: SOLANA_GENESIS_HASHES[network] });
  const usdc = await cluster.createMint({ address: USDC_MINTS[network], decimals: 6 });
  const server = await startLocalSolanaRpc(cluster, { port: opts.port });
  return {
    cluster,
    server,
    url: server.url,
    rpc: createSolanaRpc(server.url) as Rpc<SolanaRpcApi>,
    network,
    caip2: CAIP2[network],
    usdc,
    async close() {
      await server.stop();
      cluster.close();
    },
  };
}

export interface Buyer {
  signer: KeyPairSigner;
  address: Address;
  /** The buyer's USDC associated token account. */
  ata: Address;
}

/** A fresh buyer holding `usdc` base units (default 1 USDC) and `sol` lamports (default none: the fee payer pays). */
export async function fundedBuyer(local: LocalSolana, o: { usdc?: bigint; sol?: bigint; mint?: Address } = {}): Promise<Buyer> {
  const signer = await generateKeyPairSigner();
  if (o.sol) local.cluster.airdrop(signer.address, o.sol);
  const ata = await local.cluster.fundToken({ mint: o.mint ?? local.usdc, owner: signer.address, amount: o.usdc ?? 1_000_000n });
  return { signer, address: signer.address, ata };
}

export interface FeePayerKey {
  signer: KeyPairSigner;
  address: Address;
  /** base58 of the 64-byte secret key (seed ‖ public key), as Phantom / solana-keygen pubkey exports it. */
  base58: string;
  /** The same 64 bytes as a JSON array, as solana-keygen writes a keypair file. */
  json: string;
}

/** A new Ed25519 key pair in both operator formats, optionally funded with `sol` lamports. */
export async function generateFeePayerKey(local?: LocalSolana, sol?: bigint): Promise<FeePayerKey> {
  const pair = (await crypto.subtle.generateKey("Ed25519", true, ["sign", "verify"])) as CryptoKeyPair;
  // PKCS#8 for Ed25519 ends with the 32-byte seed.
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
  const publicKey = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  const secret = new Uint8Array(64);
  secret.set(pkcs8.slice(pkcs8.length - 32), 0);
  secret.set(publicKey, 32);
  const signer = await createKeyPairSignerFromBytes(secret);
  if (local && sol) local.cluster.airdrop(signer.address, sol);
  return { signer, address: signer.address, base58: getBase58Decoder().decode(secret), json: JSON.stringify(Array.from(secret)) };
}
