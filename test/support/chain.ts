// A private anvil chain per test file, running Circle's real USDC at the canonical Base Sepolia
// address, with Multicall3 in place as on real networks.
import { createPublicClient, http, parseUnits, type Address, type PublicClient } from "viem";
import { privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";
import { ANVIL_KEYS, startAnvil, type AnvilInstance } from "../../src/devnet/anvil.js";
import { devnetTestClient } from "../../src/devnet/contracts.js";
import { ensureMulticall3 } from "../../src/devnet/multicall3.js";
import { BASE_SEPOLIA_USDC, deployUsdc, mintUsdc, type UsdcDeployment } from "../../src/devnet/usdc.js";

export interface TestChain {
  anvil: AnvilInstance;
  rpcUrl: string;
  chainId: number;
  usdc: UsdcDeployment;
  client: PublicClient;
  test: ReturnType<typeof devnetTestClient>;
  /** anvil accounts 0..4 (5..9 hold the token's roles) */
  accounts: PrivateKeyAccount[];
  fund(to: Address, usdc: string): Promise<void>;
  balanceOf(who: Address): Promise<bigint>;
  stop(): Promise<void>;
}

export async function startTestChain(opts: { chainId?: number; blockTime?: number } = {}): Promise<TestChain> {
  const chainId = opts.chainId ?? 84532;
  const anvil = await startAnvil({ chainId });
  const rpcUrl = anvil.rpcUrl;
  const usdc = await deployUsdc(rpcUrl, { address: BASE_SEPOLIA_USDC });
  await ensureMulticall3(rpcUrl);
  const test = devnetTestClient(rpcUrl);
  // Deployed under automine for speed; then switch to the pace the test wants.
  if (opts.blockTime) await test.setIntervalMining({ interval: opts.blockTime });
  const client = createPublicClient({ transport: http(rpcUrl), pollingInterval: 50 }) as PublicClient;
  const balanceAbi = [
    {
      type: "function",
      name: "balanceOf",
      stateMutability: "view",
      inputs: [{ name: "a", type: "address" }],
      outputs: [{ type: "uint256" }],
    },
  ] as const;
  return {
    anvil,
    rpcUrl,
    chainId,
    usdc,
    client,
    test,
    accounts: ANVIL_KEYS.slice(0, 5).map((k) => privateKeyToAccount(k)),
    fund: async (to, amount) => {
      await mintUsdc(rpcUrl, usdc, to, parseUnits(amount, 6));
    },
    balanceOf: (who) => client.readContract({ address: usdc.address, abi: balanceAbi, functionName: "balanceOf", args: [who] }),
    stop: () => anvil.stop(),
  };
}
