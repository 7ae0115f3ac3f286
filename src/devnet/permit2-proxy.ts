import { getAddress, parseAbi, type Address, type Hex } from "viem";
import { deployBytecode, devnetTestClient } from "./contracts.js";
import { ownArtifact, type OwnContract } from "./own-contracts.js";
import { witnessTypes } from "../schemes/evm/exact/permit2/contracts.js";
import { uptoWitnessTypes } from "../schemes/evm/upto/permit2/contracts.js";
import { PERMIT2_ADDRESS, permit2ErrorsAbi } from "./permit2-canonical.js";

/** Where @x402/evm 2.27 expects the proxies (CREATE2, same on every chain). */
export const X402_EXACT_PERMIT2_PROXY: Address = "0x402085c248EeA27D92E8b30b2C58ed07f9E20001";
export const X402_UPTO_PERMIT2_PROXY: Address = "0x4020A4f3b7b90ccA423B9fabCc0CE57C6C240002";

/** What each proxy hands Permit2 as witnessTypeString: the tail of the PermitWitnessTransferFrom type. */
export const EXACT_WITNESS_TYPE_STRING =
  "Witness witness)TokenPermissions(address token,uint256 amount)Witness(address to,uint256 validAfter)";
export const UPTO_WITNESS_TYPE_STRING =
  "Witness witness)TokenPermissions(address token,uint256 amount)Witness(address to,address facilitator,uint256 validAfter)";

/** EIP-712 types the payer signs (domain: name "Permit2", chainId, verifyingContract PERMIT2_ADDRESS; no version): the facilitator's own. */
export const exactPermit2WitnessTypes = witnessTypes;

export const uptoPermit2WitnessTypes = uptoWitnessTypes;

const shared = [
  "struct TokenPermissions { address token; uint256 amount; }",
  "struct PermitTransferFrom { TokenPermissions permitted; uint256 nonce; uint256 deadline; }",
  "struct EIP2612Permit { uint256 value; uint256 deadline; bytes32 r; bytes32 s; uint8 v; }",
  "function PERMIT2() view returns (address)",
  "function WITNESS_TYPEHASH() view returns (bytes32)",
  "function WITNESS_TYPE_STRING() view returns (string)",
  "event Settled()",
  "event SettledWithPermit()",
  "event EIP2612PermitFailed(address indexed token, address indexed owner, bytes reason)",
  "error InvalidAmount()",
  "error InvalidDestination()",
  "error InvalidOwner()",
  "error InvalidPermit2Address()",
  "error PaymentTooEarly()",
  "error Permit2612AmountMismatch()",
  "error ReentrancyGuardReentrantCall()",
] as const;

/**
 * Same selectors as @x402/evm's x402ExactPermit2ProxyABI, plus Permit2's errors, which surface
 * unchanged from settle(): with them viem names InvalidNonce or SignatureExpired in its error
 * message instead of printing a bare selector.
 */
export const x402ExactPermit2ProxyAbi = [
  ...parseAbi([
    ...shared,
    "struct Witness { address to; uint256 validAfter; }",
    "function settle(PermitTransferFrom permit, address owner, Witness witness, bytes signature)",
    "function settleWithPermit(EIP2612Permit permit2612, PermitTransferFrom permit, address owner, Witness witness, bytes signature)",
  ]),
  ...permit2ErrorsAbi,
] as const;

export const x402UptoPermit2ProxyAbi = [
  ...parseAbi([
    ...shared,
    "struct Witness { address to; address facilitator; uint256 validAfter; }",
    "function settle(PermitTransferFrom permit, uint256 amount, address owner, Witness witness, bytes signature)",
    "function settleWithPermit(EIP2612Permit permit2612, PermitTransferFrom permit, uint256 amount, address owner, Witness witness, bytes signature)",
    "error AmountExceedsPermitted()",
    "error UnauthorizedFacilitator()",
  ]),
  ...permit2ErrorsAbi,
] as const;

const proxyAbiOnly = parseAbi(["function PERMIT2() view returns (address)"]);

async function ensureProxy(rpcUrl: string, deployerKey: Hex, at: Address, contract: OwnContract): Promise<Address> {
  const test = devnetTestClient(rpcUrl);
  const existing = await test.getCode({ address: at });
  if (!existing || existing === "0x") {
    const { abi, bytecode } = await ownArtifact(contract);
    // The only immutable is the Permit2 address, so the runtime code is valid at any address.
    const scratch = await deployBytecode(rpcUrl, deployerKey, abi, bytecode, [PERMIT2_ADDRESS]);
    const runtime = await test.getCode({ address: scratch });
    if (!runtime) throw new Error(`${contract}: scratch deployment at ${scratch} has no code`);
    await test.setCode({ address: at, bytecode: runtime });
  }
  // Also accepts the published proxy on a fork of a real network: it answers the same way.
  const permit2 = await test.readContract({ address: at, abi: proxyAbiOnly, functionName: "PERMIT2" }).catch(() => undefined);
  if (!permit2 || getAddress(permit2) !== PERMIT2_ADDRESS) {
    throw new Error(`${at} has code that is not an x402 Permit2 proxy for ${PERMIT2_ADDRESS}`);
  }
  return at;
}

/** Places both proxies at their canonical addresses unless proxies are already there. */
export async function ensureX402Permit2Proxies(rpcUrl: string, deployerKey: Hex): Promise<{ exactProxy: Address; uptoProxy: Address }> {
  const exactProxy = await ensureProxy(rpcUrl, deployerKey, X402_EXACT_PERMIT2_PROXY, "x402ExactPermit2Proxy");
  const uptoProxy = await ensureProxy(rpcUrl, deployerKey, X402_UPTO_PERMIT2_PROXY, "x402UptoPermit2Proxy");
  return { exactProxy, uptoProxy };
}
