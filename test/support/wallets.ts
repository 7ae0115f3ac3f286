import {
  createPublicClient,
  encodeFunctionData,
  http,
  parseAbi,
  serializeErc6492Signature,
  zeroAddress,
  type Address,
  type Hex,
} from "viem";
import { ANVIL_KEYS } from "../../src/devnet/anvil.js";
import { compileSolidity, deployBytecode } from "../../src/devnet/contracts.js";

// ERC-1271 smart wallets for exercising USDC's `bytes signature` overloads, and an ERC-6492
// factory for wallets that do not exist yet. Plain contracts can hold ERC-20 balances, so none
// needs anything beyond isValidSignature.
// AcceptingWallet: valid iff `sig` is exactly r||s||v (v 27/28) from `owner` over `hash` itself, not
// over an EIP-191 re-hash, so a signature by the owner on USDC's EIP-712 digest passes as-is.
const SOURCE = `// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

contract AcceptingWallet {
    address public immutable owner;
    constructor(address owner_) { owner = owner_; }

    function isValidSignature(bytes32 hash, bytes calldata sig) external view returns (bytes4) {
        if (sig.length != 65) return 0xffffffff;
        address signer = ecrecover(hash, uint8(sig[64]), bytes32(sig[0:32]), bytes32(sig[32:64]));
        return signer != address(0) && signer == owner ? bytes4(0x1626ba7e) : bytes4(0xffffffff);
    }
}

interface Approvable {
    function approve(address spender, uint256 value) external returns (bool);
}

// A wallet that may approve a spender for a token as it is created, as smart wallets do with
// their init calls (so a Permit2 payer can pay from its very first transaction).
contract ApprovingWallet {
    address public immutable owner;
    constructor(address owner_, address token, address spender) {
        owner = owner_;
        if (token != address(0)) Approvable(token).approve(spender, type(uint256).max);
    }

    function isValidSignature(bytes32 hash, bytes calldata sig) external view returns (bytes4) {
        if (sig.length != 65) return 0xffffffff;
        address signer = ecrecover(hash, uint8(sig[64]), bytes32(sig[0:32]), bytes32(sig[32:64]));
        return signer != address(0) && signer == owner ? bytes4(0x1626ba7e) : bytes4(0xffffffff);
    }
}

// An ERC-6492 factory: CREATE2, so a wallet's address is known (and can be paid) before it exists.
contract WalletFactory {
    function deploy(address owner, address token, address spender, bytes32 salt) external returns (address wallet) {
        wallet = walletAddress(owner, token, spender, salt);
        if (wallet.code.length == 0) new ApprovingWallet{salt: salt}(owner, token, spender);
    }

    function walletAddress(address owner, address token, address spender, bytes32 salt) public view returns (address) {
        bytes32 init = keccak256(abi.encodePacked(type(ApprovingWallet).creationCode, abi.encode(owner, token, spender)));
        return address(uint160(uint256(keccak256(abi.encodePacked(bytes1(0xff), address(this), salt, init)))));
    }
}

contract RefusingWallet {
    function isValidSignature(bytes32, bytes calldata) external pure returns (bytes4) {
        return 0xffffffff;
    }
}
`;

export const erc1271Abi = parseAbi([
  "function isValidSignature(bytes32 hash, bytes signature) view returns (bytes4)",
  "function owner() view returns (address)",
]);

export const ERC1271_MAGIC = "0x1626ba7e";

// Deployed from anvil account 5 (the USDC admin/deployer) so tests keep accounts 0..4 to themselves.
const DEPLOYER_KEY = ANVIL_KEYS[5];

export async function deployAcceptingWallet(rpcUrl: string, owner: Address): Promise<Address> {
  const { abi, bytecode } = await compileSolidity(SOURCE, "AcceptingWallet");
  return deployBytecode(rpcUrl, DEPLOYER_KEY, abi, bytecode, [owner]);
}

export async function deployRefusingWallet(rpcUrl: string): Promise<Address> {
  const { abi, bytecode } = await compileSolidity(SOURCE, "RefusingWallet");
  return deployBytecode(rpcUrl, DEPLOYER_KEY, abi, bytecode);
}

const factoryAbi = parseAbi([
  "function deploy(address owner, address token, address spender, bytes32 salt) returns (address)",
  "function walletAddress(address owner, address token, address spender, bytes32 salt) view returns (address)",
]);

export async function deployWalletFactory(rpcUrl: string): Promise<Address> {
  const { abi, bytecode } = await compileSolidity(SOURCE, "WalletFactory");
  return deployBytecode(rpcUrl, DEPLOYER_KEY, abi, bytecode);
}

/** A wallet the factory has not created yet: its address, and how a signature names its creation. */
export interface CounterfactualWallet {
  address: Address;
  /** Wraps the owner's signature for ERC-6492: deploy through the factory, then check. */
  wrap(signature: Hex): Hex;
}

/** `approves` (token and spender) is the approval the wallet makes as it is created, if any. */
export async function counterfactualWallet(
  rpcUrl: string,
  factory: Address,
  owner: Address,
  approves: { token: Address; spender: Address } = { token: zeroAddress, spender: zeroAddress },
): Promise<CounterfactualWallet> {
  const salt = `0x${Math.floor(Math.random() * 2 ** 48)
    .toString(16)
    .padStart(64, "0")}` as Hex;
  const args = [owner, approves.token, approves.spender, salt] as const;
  const client = createPublicClient({ transport: http(rpcUrl) });
  const address = await client.readContract({ address: factory, abi: factoryAbi, functionName: "walletAddress", args });
  const data = encodeFunctionData({ abi: factoryAbi, functionName: "deploy", args });
  return { address, wrap: (signature) => serializeErc6492Signature({ address: factory, data, signature }) };
}
