import { parseAbi, type Address } from "viem";
import { MULTICALL3_ADDRESS, compileSolidity, devnetTestClient } from "./contracts.js";

export { MULTICALL3_ADDRESS };

// anvil (1.7.1) starts with no code at the canonical Multicall3 address, while the x402 libraries
// (tryAggregate, getEthBalance) and viem's multicall (aggregate3) expect it there. This is our own
// stand-in with the same ABI for those entry points, not a copy of the deployed contract.
const SOURCE = `// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

contract Multicall3 {
    struct Call { address target; bytes callData; }
    struct Call3 { address target; bool allowFailure; bytes callData; }
    struct Result { bool success; bytes returnData; }

    function aggregate(Call[] calldata calls) external payable returns (uint256 blockNumber, bytes[] memory returnData) {
        blockNumber = block.number;
        returnData = new bytes[](calls.length);
        for (uint256 i = 0; i < calls.length; i++) {
            (bool ok, bytes memory ret) = calls[i].target.call(calls[i].callData);
            require(ok, "Multicall3: call failed");
            returnData[i] = ret;
        }
    }

    function tryAggregate(bool requireSuccess, Call[] calldata calls) external payable returns (Result[] memory returnData) {
        returnData = new Result[](calls.length);
        for (uint256 i = 0; i < calls.length; i++) {
            (bool ok, bytes memory ret) = calls[i].target.call(calls[i].callData);
            require(ok || !requireSuccess, "Multicall3: call failed");
            returnData[i] = Result(ok, ret);
        }
    }

    function aggregate3(Call3[] calldata calls) external payable returns (Result[] memory returnData) {
        returnData = new Result[](calls.length);
        for (uint256 i = 0; i < calls.length; i++) {
            (bool ok, bytes memory ret) = calls[i].target.call(calls[i].callData);
            require(ok || calls[i].allowFailure, "Multicall3: call failed");
            returnData[i] = Result(ok, ret);
        }
    }

    function getEthBalance(address addr) external view returns (uint256) { return addr.balance; }
    function getBlockNumber() external view returns (uint256) { return block.number; }
    function getCurrentBlockTimestamp() external view returns (uint256) { return block.timestamp; }
    function getChainId() external view returns (uint256) { return block.chainid; }
}
`;

export const multicall3Abi = parseAbi([
  "struct Call { address target; bytes callData; }",
  "struct Call3 { address target; bool allowFailure; bytes callData; }",
  "struct Result { bool success; bytes returnData; }",
  "function aggregate(Call[] calls) payable returns (uint256 blockNumber, bytes[] returnData)",
  "function tryAggregate(bool requireSuccess, Call[] calls) payable returns (Result[] returnData)",
  "function aggregate3(Call3[] calls) payable returns (Result[] returnData)",
  "function getEthBalance(address addr) view returns (uint256)",
  "function getBlockNumber() view returns (uint256)",
  "function getCurrentBlockTimestamp() view returns (uint256)",
  "function getChainId() view returns (uint256)",
]);

/** Places a Multicall3-compatible contract at the canonical address unless code is already there. */
export async function ensureMulticall3(rpcUrl: string): Promise<Address> {
  const test = devnetTestClient(rpcUrl);
  const code = await test.getCode({ address: MULTICALL3_ADDRESS });
  if (code && code !== "0x") return MULTICALL3_ADDRESS;
  const { deployedBytecode } = await compileSolidity(SOURCE, "Multicall3");
  await test.setCode({ address: MULTICALL3_ADDRESS, bytecode: deployedBytecode });
  return MULTICALL3_ADDRESS;
}
