import { encodeFunctionData, getContractAddress, parseAbi, type Address, type Hash, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { deployBytecode, devnetTestClient, sendTx } from "./contracts.js";
import { ownArtifact } from "./own-contracts.js";

/** ERC-20 with EIP-2612 (OpenZeppelin ERC20Permit) and no EIP-3009, plus the devnet's owner-only mint. */
export const permitTokenAbi = parseAbi([
  "function name() view returns (string)",
  "function symbol() view returns (string)",
  "function decimals() view returns (uint8)",
  "function totalSupply() view returns (uint256)",
  "function balanceOf(address account) view returns (uint256)",
  "function allowance(address owner, address spender) view returns (uint256)",
  "function approve(address spender, uint256 value) returns (bool)",
  "function transfer(address to, uint256 value) returns (bool)",
  "function transferFrom(address from, address to, uint256 value) returns (bool)",
  "function permit(address owner, address spender, uint256 value, uint256 deadline, uint8 v, bytes32 r, bytes32 s)",
  "function nonces(address owner) view returns (uint256)",
  "function DOMAIN_SEPARATOR() view returns (bytes32)",
  "function eip712Domain() view returns (bytes1 fields, string name, string version, uint256 chainId, address verifyingContract, bytes32 salt, uint256[] extensions)",
  "function owner() view returns (address)",
  "function mint(address to, uint256 amount)",
  "event Transfer(address indexed from, address indexed to, uint256 value)",
  "event Approval(address indexed owner, address indexed spender, uint256 value)",
  "error ERC2612ExpiredSignature(uint256 deadline)",
  "error ERC2612InvalidSigner(address signer, address owner)",
  "error InvalidAccountNonce(address account, uint256 currentNonce)",
  "error ERC20InsufficientBalance(address sender, uint256 balance, uint256 needed)",
  "error ERC20InsufficientAllowance(address spender, uint256 allowance, uint256 needed)",
  "error OwnableUnauthorizedAccount(address account)",
]);

/** EIP-2612 Permit type, signed with the token's domain { name, version, chainId, verifyingContract }. */
export const eip2612PermitTypes = {
  Permit: [
    { name: "owner", type: "address" },
    { name: "spender", type: "address" },
    { name: "value", type: "uint256" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
} as const;

export interface PermitTokenInfo {
  address: Address;
  name: string;
  symbol: string;
  /** EIP-712 domain version; ERC20Permit fixes it at "1" (readable through eip712Domain()). */
  version: "1";
  decimals: 6;
}

export const PERMIT_TOKEN_NAME = "Permit Test USD";
export const PERMIT_TOKEN_SYMBOL = "PTUSD";

/**
 * Deploys the token as the deployer's first transaction, so its address is a function of the
 * deployer alone and a later call finds it there instead of deploying a second one.
 */
export async function ensurePermitToken(rpcUrl: string, deployerKey: Hex): Promise<PermitTokenInfo> {
  const deployer = privateKeyToAccount(deployerKey).address;
  const address = getContractAddress({ from: deployer, nonce: 0n });
  const info: PermitTokenInfo = { address, name: PERMIT_TOKEN_NAME, symbol: PERMIT_TOKEN_SYMBOL, version: "1", decimals: 6 };
  const test = devnetTestClient(rpcUrl);
  const code = await test.getCode({ address });
  if (code && code !== "0x") return info;
  if ((await test.getTransactionCount({ address: deployer })) !== 0) {
    throw new Error(`ensurePermitToken: ${deployer} has sent transactions but ${address} holds no token`);
  }
  const { abi, bytecode } = await ownArtifact("PermitTestToken");
  const deployed = await deployBytecode(rpcUrl, deployerKey, abi, bytecode, [PERMIT_TOKEN_NAME, PERMIT_TOKEN_SYMBOL, deployer]);
  if (deployed !== address) throw new Error(`ensurePermitToken: token landed at ${deployed}, expected ${address}`);
  return info;
}

export async function mintPermitToken(rpcUrl: string, deployerKey: Hex, token: Address, to: Address, amount: bigint): Promise<Hash> {
  const data = encodeFunctionData({ abi: permitTokenAbi, functionName: "mint", args: [to, amount] });
  return sendTx(rpcUrl, deployerKey, token, data);
}
