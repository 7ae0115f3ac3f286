import {
  createPublicClient,
  createTestClient,
  createWalletClient,
  defineChain,
  getAddress,
  http,
  publicActions,
  type Abi,
  type Address,
  type Chain,
  type Hash,
  type Hex,
  type PublicClient,
} from "viem";
import { privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";

export const MULTICALL3_ADDRESS: Address = "0xcA11bde05977b3631167028862bE2a173976CA11";

export interface CompiledContract {
  abi: Abi;
  bytecode: Hex;
  deployedBytecode: Hex;
}

interface SolcOutput {
  errors?: { severity: string; formattedMessage: string }[];
  contracts?: Record<string, Record<string, { abi: Abi; evm: { bytecode: { object: string }; deployedBytecode: { object: string } } }>>;
}

// Keyed by source text: a compile costs ~1 s of CPU and sources here never change within a run.
const compiled = new Map<string, Promise<SolcOutput>>();

async function compileSource(source: string): Promise<SolcOutput> {
  // Imported lazily: loading solc's emscripten build takes seconds, and most importers never compile.
  const solc = (await import("solc")).default;
  const input = {
    language: "Solidity",
    sources: { "Contract.sol": { content: source } },
    settings: {
      optimizer: { enabled: true, runs: 200 },
      // Pinned below the newest forks so the output also runs on chains that lag behind anvil's default.
      evmVersion: "cancun",
      outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
    },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input)) as string) as SolcOutput;
  const errors = (output.errors ?? []).filter((e) => e.severity === "error");
  if (errors.length) throw new Error(`solc failed:\n${errors.map((e) => e.formattedMessage).join("\n")}`);
  return output;
}

export async function compileSolidity(source: string, contractName: string): Promise<CompiledContract> {
  let pending = compiled.get(source);
  if (!pending) {
    pending = compileSource(source);
    compiled.set(source, pending);
    pending.catch(() => compiled.delete(source));
  }
  const contract = (await pending).contracts?.["Contract.sol"]?.[contractName];
  if (!contract) throw new Error(`contract ${contractName} not found in compiled source`);
  return {
    abi: contract.abi,
    bytecode: `0x${contract.evm.bytecode.object}`,
    deployedBytecode: `0x${contract.evm.deployedBytecode.object}`,
  };
}

/** Splices library addresses into unlinked bytecode; offsets in linkReferences are in bytes. */
export function linkBytecode(
  bytecode: Hex,
  linkReferences: Record<string, Record<string, { start: number; length: number }[]>>,
  libraries: Record<string, Address>,
): Hex {
  let hex = bytecode.slice(2);
  for (const [file, libs] of Object.entries(linkReferences)) {
    for (const [lib, refs] of Object.entries(libs)) {
      const address = libraries[`${file}:${lib}`] ?? libraries[lib];
      if (!address) throw new Error(`no address given for library ${file}:${lib}`);
      for (const { start, length } of refs) {
        hex = hex.slice(0, start * 2) + address.slice(2).toLowerCase() + hex.slice((start + length) * 2);
      }
    }
  }
  return `0x${hex}`;
}

export async function devnetChain(rpcUrl: string): Promise<Chain> {
  // Asked every time rather than cached: a later anvil may reuse the port with another chain id.
  const id = await createPublicClient({ transport: http(rpcUrl) }).getChainId();
  return defineChain({
    id,
    name: `devnet-${id}`,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
    contracts: { multicall3: { address: MULTICALL3_ADDRESS } },
  });
}

export async function devnetClients(rpcUrl: string, key: Hex) {
  const chain = await devnetChain(rpcUrl);
  const account: PrivateKeyAccount = privateKeyToAccount(key);
  // viem's default 4 s polling would dominate every receipt wait on a local chain.
  const transport = http(rpcUrl);
  const publicClient = createPublicClient({ chain, transport, pollingInterval: 50 });
  const walletClient = createWalletClient({ chain, transport, account, pollingInterval: 50 });
  return { chain, account, publicClient, walletClient };
}

/** anvil_* cheat methods plus ordinary reads, for state surgery such as setCode/setStorageAt. */
export function devnetTestClient(rpcUrl: string) {
  return createTestClient({ mode: "anvil", transport: http(rpcUrl) }).extend(publicActions);
}

/** Waits for the receipt and turns an on-chain revert into an exception. */
export async function waitOk(publicClient: PublicClient, hash: Hash): Promise<void> {
  const receipt = await publicClient.waitForTransactionReceipt({ hash });
  if (receipt.status !== "success") throw new Error(`transaction ${hash} reverted`);
}

// viem reads the next nonce from the node, so two helpers sending from one account at once would
// collide; queue them per (chain, sender) instead.
const senderQueues = new Map<string, Promise<unknown>>();

export function serialized<T>(rpcUrl: string, sender: Address, task: () => Promise<T>): Promise<T> {
  const key = `${rpcUrl}|${sender.toLowerCase()}`;
  const run = (senderQueues.get(key) ?? Promise.resolve()).then(task, task);
  const settled = run.catch(() => undefined);
  senderQueues.set(key, settled);
  void settled.then(() => {
    if (senderQueues.get(key) === settled) senderQueues.delete(key);
  });
  return run;
}

export async function deployBytecode(rpcUrl: string, key: Hex, abi: Abi, bytecode: Hex, args: readonly unknown[] = []): Promise<Address> {
  const { publicClient, walletClient, account } = await devnetClients(rpcUrl, key);
  return serialized(rpcUrl, account.address, async () => {
    const hash = await walletClient.deployContract({ abi, bytecode, args });
    const receipt = await publicClient.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success" || !receipt.contractAddress) throw new Error(`deployment ${hash} failed`);
    return getAddress(receipt.contractAddress);
  });
}

/** Sends a call (data from viem's typed encodeFunctionData) and waits until it is mined successfully. */
export async function sendTx(rpcUrl: string, key: Hex, to: Address, data: Hex): Promise<Hash> {
  const { publicClient, walletClient, account } = await devnetClients(rpcUrl, key);
  return serialized(rpcUrl, account.address, async () => {
    const hash = await walletClient.sendTransaction({ to, data });
    await waitOk(publicClient, hash);
    return hash;
  });
}
