import { parseAbi, type Address } from "viem";
import { ANVIL_KEYS } from "../../src/devnet/anvil.js";
import { compileSolidity, deployBytecode } from "../../src/devnet/contracts.js";

// ERC-1271 smart wallets for exercising USDC's `bytes signature` overloads. Plain contracts can hold
// ERC-20 balances, so neither needs anything beyond isValidSignature.
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
