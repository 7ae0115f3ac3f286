// Gas of several calls measured in one eth_call: GasProbe.sol (beside this file) runs each call
// in turn and reports what it used (zero when it failed) and what it returned. It is never deployed: the eth_call
// places its code at an address nobody owns through a state override, which every common node
// and provider accepts; one that does not answers with an error, and the caller estimates alone.
// test/unit/gas-probe.test.ts compiles the source with the project's solc and holds the code
// below to it.
import { decodeFunctionResult, encodeFunctionData, parseAbi, type Address, type Hex, type PublicClient } from "viem";

/** Where the probe's code is placed for the call: the first 20 bytes of keccak256("x402-facilitator gas probe"). */
export const GAS_PROBE_ADDRESS = "0x52c8a5293ddf439dc5caa9ba162649a048c8a8e7" as const;

/** Runtime code of GasProbe.sol: solc 0.8.37, optimizer 200 runs, EVM paris, no metadata. */
export const GAS_PROBE_CODE =
  "0x608060405234801561001057600080fd5b506004361061002b5760003560e01c8063c89561c514610030575b600080fd5b61004361003e36600461026b565b61005a565b6040516100519291906102dc565b60405180910390f35b6060808467ffffffffffffffff811115610076576100766103b5565b60405190808252806020026020018201604052801561009f578160200160208202803683370190505b5091508467ffffffffffffffff8111156100bb576100bb6103b5565b6040519080825280602002602001820160405280156100ee57816020015b60608152602001906001900390816100d95790505b50905060005b858110156102155760005a9050600080898985818110610116576101166103cb565b905060200201602081019061012b91906103e1565b6001600160a01b0316888886818110610146576101466103cb565b90506020028101906101589190610411565b604051610166929190610458565b6000604051808303816000865af19150503d80600081146101a3576040519150601f19603f3d011682016040523d82523d6000602084013e6101a8565b606091505b509150915060005a6101ba9085610468565b9050826101c85760006101ca565b805b8786815181106101dc576101dc6103cb565b602002602001018181525050818686815181106101fb576101fb6103cb565b6020026020010181905250505050508060010190506100f4565b5094509492505050565b60008083601f84011261023157600080fd5b50813567ffffffffffffffff81111561024957600080fd5b6020830191508360208260051b850101111561026457600080fd5b9250929050565b6000806000806040858703121561028157600080fd5b843567ffffffffffffffff81111561029857600080fd5b6102a48782880161021f565b909550935050602085013567ffffffffffffffff8111156102c457600080fd5b6102d08782880161021f565b95989497509550505050565b6040808252835190820181905260009060208501906060840190835b818110156103165783518352602093840193909201916001016102f8565b50508381036020850152809150845180825260208201925060208160051b8301016020870160005b838110156103a757848303601f190186528151805180855260005b8181101561037557602081840181015187830182015201610359565b506000602082870101526020601f19601f8301168601019450505060208201915060208601955060018101905061033e565b509098975050505050505050565b634e487b7160e01b600052604160045260246000fd5b634e487b7160e01b600052603260045260246000fd5b6000602082840312156103f357600080fd5b81356001600160a01b038116811461040a57600080fd5b9392505050565b6000808335601e1984360301811261042857600080fd5b83018035915067ffffffffffffffff82111561044357600080fd5b60200191503681900382131561026457600080fd5b8183823760009101908152919050565b8181038181111561048957634e487b7160e01b600052601160045260246000fd5b9291505056" as const;

const probeAbi = parseAbi(["function probe(address[] targets, bytes[] data) returns (uint256[] used, bytes[] results)"]);

export interface ProbedCall {
  to: Address;
  data: Hex;
}

/**
 * Gas each call used when run in this order from `from` against `blockTag` (inner execution
 * only: no intrinsic cost, and accounts and slots a previous call touched are warm; 0n where
 * the call failed), and what each returned. Throws when the node cannot run it (no state
 * overrides, unreachable).
 */
export async function probeGas(
  client: PublicClient,
  from: Address,
  calls: readonly ProbedCall[],
  blockTag: "latest" | "pending" = "latest",
): Promise<{ used: readonly bigint[]; results: readonly Hex[] }> {
  const data = encodeFunctionData({ abi: probeAbi, functionName: "probe", args: [calls.map((c) => c.to), calls.map((c) => c.data)] });
  const out = await client.call({
    account: from,
    to: GAS_PROBE_ADDRESS,
    data,
    blockTag,
    stateOverride: [{ address: GAS_PROBE_ADDRESS, code: GAS_PROBE_CODE }],
  });
  const [used, results] = decodeFunctionResult({ abi: probeAbi, functionName: "probe", data: out.data ?? "0x" });
  if (used.length !== calls.length || results.length !== calls.length)
    throw new Error(`gas probe answered ${used.length} figures for ${calls.length} calls`);
  return { used, results };
}

/** A transaction's own base cost. */
export const TX_BASE_GAS = 21_000n;

/**
 * What a storage slot going to or from zero (a payee's balance) can add between a simulation
 * and inclusion: another transaction may have moved it first, or not moved it after all.
 */
export const STORAGE_FLIP_GAS = 20_000n;

/** Calldata's intrinsic gas (EIP-2028): 4 per zero byte, 16 per other byte. */
export function calldataGas(data: Hex): bigint {
  let gas = 0n;
  for (let i = 2; i < data.length; i += 2) gas += data[i] === "0" && data[i + 1] === "0" ? 4n : 16n;
  return gas;
}
