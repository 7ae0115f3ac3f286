// Multicall3 at its canonical address: tryAggregate for deploy-then-transfer (counterfactual
// wallets), aggregate3 for several transfers in one call, each allowed to fail alone. aggregate3
// is laid out by hand because verify builds one per batch of simulations; the unit test holds
// both directions to viem's ABI coder.
import { encodeFunctionData, parseAbi, toFunctionSelector, type Address, type Hex } from "viem";
import { hexWord, uintWord } from "./abi-words.js";

export const MULTICALL3 = "0xcA11bde05977b3631167028862bE2a173976CA11" as const;

export const tryAggregateAbi = parseAbi([
  "struct Call { address target; bytes callData; }",
  "struct Result { bool success; bytes returnData; }",
  "function tryAggregate(bool requireSuccess, Call[] calls) returns (Result[])",
]);

export const aggregate3Abi = parseAbi([
  "struct Call3 { address target; bool allowFailure; bytes callData; }",
  "struct Result { bool success; bytes returnData; }",
  "function aggregate3(Call3[] calls) payable returns (Result[])",
]);

export interface Call3 {
  target: Address;
  allowFailure: boolean;
  callData: Hex;
}

const AGGREGATE3 = toFunctionSelector(aggregate3Abi[0]).slice(2);

/** aggregate3(calls) calldata. */
export function aggregate3Calldata(calls: readonly Call3[]): Hex {
  // Head: offset of the array, its length, then one offset per element (from the array's
  // data start); each element is (target, allowFailure, offset of bytes, length, padded bytes).
  const tails = calls.map((c) => {
    const data = c.callData.slice(2);
    const padded = data.padEnd(Math.ceil(data.length / 64) * 64, "0");
    return `${hexWord(c.target.slice(2).toLowerCase())}${uintWord(c.allowFailure ? 1 : 0)}${uintWord(96)}${uintWord(data.length / 2)}${padded}`;
  });
  let offset = calls.length * 32;
  const offsets = tails.map((t) => {
    const at = offset;
    offset += t.length / 2;
    return uintWord(at);
  });
  return `0x${AGGREGATE3}${uintWord(32)}${uintWord(calls.length)}${offsets.join("")}${tails.join("")}`;
}

/** The success flag of each result of aggregate3 (returnData is not needed by its callers). */
export function aggregate3Successes(data: Hex, expected: number): boolean[] | undefined {
  const hex = data.slice(2);
  const at = (byte: number) => parseInt(hex.slice(byte * 2, byte * 2 + 64), 16);
  if (hex.length < 128) return undefined;
  const base = at(0);
  if (base + 32 > hex.length / 2 || at(base) !== expected) return undefined;
  const out: boolean[] = [];
  for (let i = 0; i < expected; i++) {
    const element = base + 32 + at(base + 32 + i * 32);
    if (element + 64 > hex.length / 2) return undefined;
    out.push(at(element) === 1);
  }
  return out;
}

/**
 * A contract call preceded, in the same transaction, by an ERC-6492 wallet's deployment: its
 * factory's call then the call itself, through tryAggregate(requireSuccess) so either failing
 * reverts both. Without a deployment the call goes alone.
 */
export function afterDeployment(
  call: { to: Address; data: Hex },
  deployment?: { factory: Address; calldata: Hex },
): { to: Address; data: Hex } {
  if (!deployment) return call;
  const calls = [
    { target: deployment.factory, callData: deployment.calldata },
    { target: call.to, callData: call.data },
  ];
  return { to: MULTICALL3, data: encodeFunctionData({ abi: tryAggregateAbi, functionName: "tryAggregate", args: [true, calls] }) };
}
