// The Solana clusters x402 names, with the USDC mint each settles by default. A cluster is only
// enabled when RPC_URL_SOLANA[_DEVNET|_TESTNET] is set. Solana rows share the ledger with EVM
// ones: their chain_id is a negative number no EVM chain uses, so (chain_id, payment_key) stays
// the one uniqueness rule for every payment.

export const SPL_TOKEN_PROGRAMS = ["token", "token-2022"] as const;
export type SplTokenProgram = (typeof SPL_TOKEN_PROGRAMS)[number];

export interface SvmAsset {
  /** The mint address (base58, case-sensitive). */
  mint: string;
  decimals: number;
  symbol: string;
  tokenProgram: SplTokenProgram;
}

export type SolanaCommitment = "confirmed" | "finalized";

export interface SvmNetworkDefinition {
  /** v1 wire name, also the suffix of RPC_URL_<NAME>. */
  name: string;
  caip2: `solana:${string}`;
  /** The first 32 characters of the cluster's genesis hash are its CAIP-2 reference. */
  ledgerChainId: number;
  assets: SvmAsset[];
  /** When a landed transaction counts as settled. */
  commitment: SolanaCommitment;
  /** Ceiling on the compute-unit price a payment may ask the fee payer to pay (micro-lamports). */
  maxComputeUnitPrice: bigint;
  /** Ceiling on the compute-unit limit a payment may set. */
  maxComputeUnits: number;
  /** Below this balance (lamports) a fee payer is reported low in /readyz. */
  minFeePayerBalance: bigint;
  /** Signatures a payment may require: the fee payer and the token authority. */
  maxSigners: number;
}

export interface EnabledSvmNetwork extends SvmNetworkDefinition {
  rpcUrls: string[];
}

const usdc = (mint: string): SvmAsset => ({ mint, decimals: 6, symbol: "USDC", tokenProgram: "token" });

export const SVM_DEFAULTS = {
  commitment: "confirmed" as SolanaCommitment,
  // The official facilitator's ceiling: 5 lamports per compute unit.
  maxComputeUnitPrice: 5_000_000n,
  maxComputeUnits: 200_000,
  minFeePayerBalance: 10_000_000n, // 0.01 SOL
  maxSigners: 2,
};

export const BUILTIN_SVM_NETWORKS: readonly SvmNetworkDefinition[] = [
  {
    name: "solana",
    caip2: "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp",
    ledgerChainId: -101,
    assets: [usdc("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v")],
    ...SVM_DEFAULTS,
  },
  {
    name: "solana-devnet",
    caip2: "solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1",
    ledgerChainId: -102,
    assets: [usdc("4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU")],
    ...SVM_DEFAULTS,
  },
  {
    name: "solana-testnet",
    caip2: "solana:4uhcVJyU9pJkvQyS88uRDiswHXSCkY3z",
    ledgerChainId: -103,
    assets: [usdc("4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU")],
    ...SVM_DEFAULTS,
  },
];

/** Whether a ledger chain id belongs to a Solana cluster rather than an EVM chain. */
export const isSvmChainId = (chainId: number): boolean => chainId < 0;

/** The CAIP-2 id a ledger chain id stands for (EVM: eip155:<id>). */
export function caip2OfChainId(chainId: number): string {
  if (!isSvmChainId(chainId)) return `eip155:${chainId}`;
  return BUILTIN_SVM_NETWORKS.find((n) => n.ledgerChainId === chainId)?.caip2 ?? `solana:unknown(${chainId})`;
}

/** Whether a request's network names a Solana cluster (v1 name or CAIP-2), whether enabled or not. */
export const isSvmNetworkName = (network: string): boolean => network.startsWith("solana:") || /^solana(-[a-z]+)?$/.test(network);

export const SVM_ADDRESS = /^[1-9A-HJ-NP-Za-km-z]{32,44}$/;
