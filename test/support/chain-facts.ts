// What the chain itself says about a payment: the invariants are checked from logs, not from
// our own ledger.
import { parseAbiItem, type Address, type Hex } from "viem";
import type { TestChain } from "./chain.js";

const used = parseAbiItem("event AuthorizationUsed(address indexed authorizer, bytes32 indexed nonce)");

/** Transactions in which this authorization was used: more than one would be a double spend. */
export async function usesOf(chain: TestChain, payer: Address, nonce: Hex): Promise<Hex[]> {
  const logs = await chain.client.getLogs({
    address: chain.usdc.address,
    event: used,
    args: { authorizer: payer, nonce },
    fromBlock: 0n,
    toBlock: "latest",
  });
  return logs.map((l) => l.transactionHash!);
}

export const relayerNonce = (chain: TestChain, relayer: Address) =>
  chain.client.getTransactionCount({ address: relayer, blockTag: "latest" });
