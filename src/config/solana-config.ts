// Solana clusters from the environment and NETWORKS_FILE's optional `solana` list: built-ins
// overlaid by name, mints added to the built-in USDC, enabled by RPC_URL_SOLANA[_DEVNET|_TESTNET].
import { z } from "zod";
import {
  BUILTIN_SVM_NETWORKS,
  SPL_TOKEN_PROGRAMS,
  SVM_ADDRESS,
  type EnabledSvmNetwork,
  type SvmNetworkDefinition,
} from "./solana-networks.js";

const lamports = z
  .string()
  .regex(/^(0|[1-9][0-9]{0,19})$/, "a decimal amount")
  .transform(BigInt);

export const svmNetworksFileSchema = z.array(
  z.strictObject({
    name: z.enum(BUILTIN_SVM_NETWORKS.map((n) => n.name) as [string, ...string[]]),
    rpcUrls: z
      .array(z.string().regex(/^https?:\/\/[^\s]+$/, "not an http(s) URL"))
      .min(1)
      .optional(),
    assets: z
      .array(
        z.strictObject({
          mint: z.string().regex(SVM_ADDRESS, "a base58 mint address"),
          decimals: z.number().int().min(0).max(18),
          symbol: z.string().min(1).max(16).default("TOKEN"),
          tokenProgram: z.enum(SPL_TOKEN_PROGRAMS).default("token"),
        }),
      )
      .optional(),
    commitment: z.enum(["confirmed", "finalized"]).optional(),
    maxComputeUnitPrice: lamports.optional(),
    maxComputeUnits: z.number().int().min(1).max(1_400_000).optional(),
    minFeePayerBalance: lamports.optional(),
    maxSigners: z.number().int().min(2).max(16).optional(),
  }),
);

export type SvmNetworksFileEntry = z.infer<typeof svmNetworksFileSchema>[number];

/** The suffixes of the RPC_URL_ variables that enable a Solana cluster. */
export const svmEnvSuffixes = (): string[] => BUILTIN_SVM_NETWORKS.map((n) => n.name.toUpperCase().replace(/-/g, "_"));

export function resolveSvmNetworks(
  env: Record<string, string | undefined>,
  entries: readonly SvmNetworksFileEntry[],
  parseUrls: (variable: string, value: string) => string[],
): EnabledSvmNetwork[] {
  const enabled: EnabledSvmNetwork[] = [];
  for (const builtin of BUILTIN_SVM_NETWORKS) {
    const entry = entries.find((e) => e.name === builtin.name);
    const variable = `RPC_URL_${builtin.name.toUpperCase().replace(/-/g, "_")}`;
    const rpcUrls = env[variable] ? parseUrls(variable, env[variable]) : entry?.rpcUrls;
    if (!rpcUrls?.length) continue;
    const extra = (entry?.assets ?? []).filter((a) => !builtin.assets.some((b) => b.mint === a.mint));
    const net: SvmNetworkDefinition = {
      ...builtin,
      assets: [...builtin.assets, ...extra],
      commitment: entry?.commitment ?? builtin.commitment,
      maxComputeUnitPrice: entry?.maxComputeUnitPrice ?? builtin.maxComputeUnitPrice,
      maxComputeUnits: entry?.maxComputeUnits ?? builtin.maxComputeUnits,
      minFeePayerBalance: entry?.minFeePayerBalance ?? builtin.minFeePayerBalance,
      maxSigners: entry?.maxSigners ?? builtin.maxSigners,
    };
    enabled.push({ ...net, rpcUrls });
  }
  return enabled;
}
