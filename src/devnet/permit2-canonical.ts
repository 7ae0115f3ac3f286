import path from "node:path";
import { encodeAbiParameters, keccak256, parseAbi, stringToHex, type Address, type Hex } from "viem";
import { deployBytecode, devnetTestClient } from "./contracts.js";
import { compileCached, packageDir, type Artifact } from "./solc-cache.js";

/** Uniswap's Permit2, at the same CREATE2 address on every chain it is deployed to. */
export const PERMIT2_ADDRESS: Address = "0x000000000022D473030F116dDEE9F6B43aC78BA3";

/** Errors Permit2 raises; they bubble unchanged through the x402 proxies, so include them when decoding a proxy revert. */
export const permit2ErrorsAbi = parseAbi([
  "error InvalidNonce()",
  "error SignatureExpired(uint256 signatureDeadline)",
  "error InvalidSignature()",
  "error InvalidSigner()",
  "error InvalidSignatureLength()",
  "error InvalidContractSignature()",
  "error InvalidAmount(uint256 maxAmount)",
  "error LengthMismatch()",
  "error AllowanceExpired(uint256 deadline)",
  "error InsufficientAllowance(uint256 amount)",
  "error ExcessiveInvalidation()",
]);

/** The part of Permit2 a facilitator reads or a test drives (signature transfers plus the allowance view). */
export const permit2Abi = [
  ...parseAbi([
    "struct TokenPermissions { address token; uint256 amount; }",
    "struct PermitTransferFrom { TokenPermissions permitted; uint256 nonce; uint256 deadline; }",
    "struct SignatureTransferDetails { address to; uint256 requestedAmount; }",
    "function DOMAIN_SEPARATOR() view returns (bytes32)",
    "function nonceBitmap(address owner, uint256 wordPos) view returns (uint256)",
    "function allowance(address user, address token, address spender) view returns (uint160 amount, uint48 expiration, uint48 nonce)",
    "function approve(address token, address spender, uint160 amount, uint48 expiration)",
    "function invalidateUnorderedNonces(uint256 wordPos, uint256 mask)",
    "function permitWitnessTransferFrom(PermitTransferFrom permit, SignatureTransferDetails transferDetails, address owner, bytes32 witness, string witnessTypeString, bytes signature)",
    "event UnorderedNonceInvalidation(address indexed owner, uint256 word, uint256 mask)",
  ]),
  ...permit2ErrorsAbi,
] as const;

const EIP712_DOMAIN_TYPEHASH = keccak256(stringToHex("EIP712Domain(string name,uint256 chainId,address verifyingContract)"));

/** What DOMAIN_SEPARATOR() must return at `address` on `chainId` (Permit2's domain has no version field). */
export function permit2DomainSeparator(chainId: number, address: Address = PERMIT2_ADDRESS): Hex {
  return keccak256(
    encodeAbiParameters(
      [{ type: "bytes32" }, { type: "bytes32" }, { type: "uint256" }, { type: "address" }],
      [EIP712_DOMAIN_TYPEHASH, keccak256(stringToHex("Permit2")), BigInt(chainId), address],
    ),
  );
}

/** Folder of Permit2's repository as vendored inside @uniswap/v4-periphery. */
export function permit2SourceRoot(): string {
  return path.join(packageDir("@uniswap/v4-periphery"), "lib/permit2");
}

/**
 * Permit2 built as Uniswap built it (permit2/foundry.toml: solc 0.8.17, via-IR, 1,000,000
 * optimizer runs, no metadata hash), so the runtime code equals the canonical deployment
 * outside its two immutables.
 */
export async function permit2Artifact(): Promise<Artifact> {
  const root = permit2SourceRoot();
  const unit = "src/Permit2.sol:Permit2";
  const artifacts = await compileCached({
    solc: "solc-0.8.17",
    entries: { "src/Permit2.sol": path.join(root, "src/Permit2.sol") },
    remappings: { "solmate/": path.join(root, "lib/solmate") },
    settings: { viaIR: true, optimizer: { enabled: true, runs: 1_000_000 }, metadata: { bytecodeHash: "none" } },
    contracts: [unit],
  });
  return artifacts[unit] as Artifact;
}

async function readDomainSeparator(rpcUrl: string): Promise<Hex> {
  return devnetTestClient(rpcUrl).readContract({ address: PERMIT2_ADDRESS, abi: permit2Abi, functionName: "DOMAIN_SEPARATOR" });
}

async function setChainId(rpcUrl: string, chainId: number): Promise<void> {
  // viem's test client has no wrapper for this anvil method.
  await devnetTestClient(rpcUrl).request({ method: "anvil_setChainId", params: [chainId] } as never);
}

/**
 * Puts Permit2 at its canonical address unless a working one is already there.
 *
 * Permit2 caches its domain separator (built from chain id and its own address) in immutables
 * and rebuilds it only when block.chainid differs from the cached id. Runtime code copied from
 * a scratch deployment would keep the scratch address in that cache, so the scratch copy is
 * built under another chain id: once the id is restored, every call rebuilds the separator
 * from the canonical address. Other users of the chain must not send transactions meanwhile:
 * anything signed for the real chain id is rejected during that window.
 */
export async function ensurePermit2(rpcUrl: string, deployerKey: Hex): Promise<Address> {
  const test = devnetTestClient(rpcUrl);
  const chainId = await test.getChainId();
  const expected = permit2DomainSeparator(chainId);
  const existing = await test.getCode({ address: PERMIT2_ADDRESS });
  if (existing && existing !== "0x") {
    if ((await readDomainSeparator(rpcUrl)) === expected) return PERMIT2_ADDRESS;
    throw new Error(`ensurePermit2: ${PERMIT2_ADDRESS} has code whose DOMAIN_SEPARATOR is not Permit2's for chain ${chainId}`);
  }

  const { abi, bytecode } = await permit2Artifact();
  const scratchChainId = chainId + 1;
  await setChainId(rpcUrl, scratchChainId);
  let scratch: Address;
  try {
    scratch = await deployBytecode(rpcUrl, deployerKey, abi, bytecode);
  } finally {
    await setChainId(rpcUrl, chainId);
  }
  const runtime = await test.getCode({ address: scratch });
  if (!runtime) throw new Error(`ensurePermit2: scratch deployment at ${scratch} has no code`);
  await test.setCode({ address: PERMIT2_ADDRESS, bytecode: runtime });

  const actual = await readDomainSeparator(rpcUrl);
  if (actual !== expected) throw new Error(`ensurePermit2: DOMAIN_SEPARATOR is ${actual}, expected ${expected}`);
  return PERMIT2_ADDRESS;
}
