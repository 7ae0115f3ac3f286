// Built-in networks: x402 v1 names with their chain ids and the EIP-3009 stablecoins the
// facilitator settles by default. A network is only enabled when an RPC URL is configured.
import type { Address } from "viem";

/** The ways a token can be moved for a payment: its own EIP-3009, or Permit2 (any ERC-20). */
export const TRANSFER_METHODS = ["eip3009", "permit2"] as const;
export type TransferMethod = (typeof TRANSFER_METHODS)[number];

export interface AssetConfig {
  address: Address;
  /** EIP-712 domain name and version: must match the token's DOMAIN_SEPARATOR. */
  name: string;
  version: string;
  decimals: number;
  symbol: string;
  /** Which methods may move it; unset: both (USDC has EIP-3009 and works with Permit2). */
  transferMethods?: TransferMethod[];
}

export interface NetworkDefinition {
  /** v1 wire name, also the suffix of RPC_URL_<NAME> (upper-snake-cased). */
  name: string;
  chainId: number;
  /** Whether v1 clients know this name (only those are listed as v1 kinds). */
  v1: boolean;
  assets: AssetConfig[];
  /** Blocks on top of the receipt's block before a settlement counts as confirmed. */
  confirmations: number;
  /** ERC-6492 factories whose counterfactual wallets may be deployed (default: none). */
  eip6492Factories: Address[];
  /** Ceiling on maxFeePerGas (wei): no transaction or replacement ever offers more. */
  maxFeePerGas: bigint;
  /** A transaction not mined after this long is replaced at the same nonce with higher fees. */
  replaceAfterSeconds: number;
  /** Below this native balance (wei) a relayer key stops taking new settlements. */
  minRelayerBalance: bigint;
  /**
   * Verify simulations of one moment share a Multicall3 call (used only where Multicall3 is
   * deployed). Off for tokens whose transferWithAuthorization looks at msg.sender.
   */
  multicallSimulation: boolean;
}

const usdc = (address: Address, name: string): AssetConfig => ({ address, name, version: "2", decimals: 6, symbol: "USDC" });
const usdt0 = (address: Address): AssetConfig => ({ address, name: "USDT0", version: "1", decimals: 6, symbol: "USDT0" });

type Builtin = Pick<NetworkDefinition, "name" | "chainId"> & Partial<NetworkDefinition>;

const BUILTINS: Builtin[] = [
  { name: "base", chainId: 8453, assets: [usdc("0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913", "USD Coin")] },
  { name: "base-sepolia", chainId: 84532, assets: [usdc("0x036CbD53842c5426634e7929541eC2318f3dCF7e", "USDC")] },
  { name: "avalanche", chainId: 43114, assets: [usdc("0xB97EF9Ef8734C71904D8002F8b6Bc66Dd9c48a6E", "USD Coin")] },
  { name: "avalanche-fuji", chainId: 43113, assets: [usdc("0x5425890298aed601595a70AB815c96711a31Bc65", "USD Coin")] },
  { name: "polygon", chainId: 137, assets: [usdc("0x3c499c542cEF5E3811e1192ce70d8cC03d5c3359", "USD Coin")] },
  { name: "polygon-amoy", chainId: 80002 },
  { name: "sei", chainId: 1329, assets: [usdc("0xe15fC38F6D8c56aF07bbCBe3BAf5708A2Bf42392", "USDC")] },
  { name: "sei-testnet", chainId: 1328 },
  { name: "iotex", chainId: 4689 },
  { name: "peaq", chainId: 3338 },
  { name: "abstract", chainId: 2741 },
  { name: "abstract-testnet", chainId: 11124 },
  { name: "story", chainId: 1514 },
  { name: "educhain", chainId: 41923 },
  { name: "skale-base-sepolia", chainId: 324705682 },
  { name: "ethereum", chainId: 1, assets: [usdc("0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48", "USD Coin")] },
  { name: "sepolia", chainId: 11155111 },
  { name: "megaeth", chainId: 4326 },
  { name: "monad", chainId: 143, assets: [usdc("0x754704Bc059F8C67012fEd69BC8A327a5aafb603", "USDC")] },
  { name: "stable", chainId: 988, assets: [usdt0("0x779Ded0c9e1022225f8E0630b35a9b54bE713736")] },
  { name: "stable-testnet", chainId: 2201, assets: [usdt0("0x78Cf24370174180738C5B8E352B6D14c83a6c9A9")] },
  { name: "celo", chainId: 42220 },
  { name: "flare", chainId: 14 },
  // Not in the v1 name table: reachable through v2 (eip155:<id>) only.
  { name: "arbitrum", chainId: 42161, v1: false, assets: [usdc("0xaf88d065e77c8cC2239327C5EDb3A432268e5831", "USD Coin")] },
  { name: "arbitrum-sepolia", chainId: 421614, v1: false, assets: [usdc("0x75faf114eafb1BDbe2F0316DF893fd58CE46AA4d", "USD Coin")] },
];

/** Settings a network gets unless it (or NETWORKS_FILE) says otherwise. */
export const NETWORK_DEFAULTS = {
  confirmations: 1,
  eip6492Factories: [] as Address[],
  maxFeePerGas: 200n * 10n ** 9n, // 200 gwei
  replaceAfterSeconds: 30,
  minRelayerBalance: 5n * 10n ** 14n, // 0.0005 of the native coin
  multicallSimulation: true,
} as const;

export const BUILTIN_NETWORKS: readonly NetworkDefinition[] = BUILTINS.map((n) => ({ v1: true, assets: [], ...NETWORK_DEFAULTS, ...n }));

/** `base-sepolia` → `BASE_SEPOLIA`, the suffix of its RPC_URL_ variable. */
export const envSuffix = (name: string): string => name.toUpperCase().replace(/-/g, "_");
