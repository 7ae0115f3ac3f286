// The hand-laid aggregate3 calldata and result reading agree with viem's ABI coder, and the
// grouping of simulations never puts dependent transfers together.
import { decodeFunctionData, encodeAbiParameters, encodeFunctionData, type Address, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import { aggregate3Abi, aggregate3Calldata, aggregate3Successes } from "../../src/evm/multicall.js";
import { groupIndependent, type TransferSimulation } from "../../src/evm/transfer-simulator.js";
import { randomNonce } from "../support/payments.js";

const addr = () => privateKeyToAccount(generatePrivateKey()).address;
const hex = (bytes: number) =>
  `0x${randomNonce()
    .slice(2)
    .repeat(Math.ceil(bytes / 32))
    .slice(0, bytes * 2)}` as Hex;

describe("aggregate3 encoding", () => {
  it.each([
    ["no calls", []],
    ["one call", [{ target: addr(), allowFailure: true, callData: hex(292) }]],
    [
      "calls of uneven lengths, failure flags mixed",
      [
        { target: addr(), allowFailure: true, callData: hex(4) },
        { target: addr(), allowFailure: false, callData: hex(0) },
        { target: addr(), allowFailure: true, callData: hex(33) },
        { target: addr(), allowFailure: true, callData: hex(292) },
      ],
    ],
  ] as const)("lays out %s as viem does", (_name, calls) => {
    const ours = aggregate3Calldata(calls);
    expect(ours).toBe(encodeFunctionData({ abi: aggregate3Abi, functionName: "aggregate3", args: [calls] }));
    const back = decodeFunctionData({ abi: aggregate3Abi, data: ours });
    expect(back.args[0].map((c) => c.target)).toEqual(calls.map((c) => c.target));
  });

  it("reads each result's success flag, and refuses answers that do not fit", () => {
    const results = [
      { success: true, returnData: "0x" as Hex },
      { success: false, returnData: hex(100) },
      { success: true, returnData: hex(32) },
    ];
    const data = encodeAbiParameters(aggregate3Abi[0].outputs, [results]);
    expect(aggregate3Successes(data, 3)).toEqual([true, false, true]);
    expect(aggregate3Successes(data, 2)).toBeUndefined();
    expect(aggregate3Successes("0x", 3)).toBeUndefined();
    expect(aggregate3Successes(data.slice(0, 200) as Hex, 3)).toBeUndefined();
  });
});

describe("grouping of simulations", () => {
  const asset = addr();
  const sim = (from: Address, to: Address, over: Partial<TransferSimulation> = {}) => ({
    sim: { asset, from, to, calldata: "0x" as Hex, blockTag: "latest" as const, ...over },
  });

  it("keeps a payer apart from its own other payments and from payments into it", () => {
    const [a, b, c, shop] = [addr(), addr(), addr(), addr()];
    const asks = [sim(a, shop), sim(b, shop), sim(a, shop), sim(c, a), sim(shop, c), sim(c, shop)];
    const groups = groupIndependent(asks);
    for (const g of groups) {
      for (const x of g)
        for (const y of g) {
          if (x === y) continue;
          expect(x.sim.from).not.toBe(y.sim.from);
          expect(x.sim.from).not.toBe(y.sim.to);
        }
    }
    expect(groups.flat()).toHaveLength(asks.length);
    // Independent payers into one shop share a group, the later ones joining the first that fits.
    expect(groups[0]).toEqual([asks[0], asks[1], asks[5]]);
  });

  it("treats addresses case-insensitively, separates block tags and caps the group size", () => {
    const [a, shop] = [addr(), addr()];
    const groups = groupIndependent([sim(a, shop), sim(a.toLowerCase() as Address, shop)]);
    expect(groups.map((g) => g.length)).toEqual([1, 1]);
    const [x, y] = [addr(), addr()];
    expect(groupIndependent([sim(x, shop), sim(y, shop, { blockTag: "pending" })]).map((g) => g.length)).toEqual([1, 1]);
    const many = Array.from({ length: 70 }, () => sim(addr(), shop));
    expect(groupIndependent(many, 32).map((g) => g.length)).toEqual([32, 32, 6]);
  });
});
