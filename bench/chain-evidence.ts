// What the chain says about a settlement run, independent of what the facilitator answered: how
// many of the authorizations are used, whether any was used twice (AuthorizationUsed logs), and
// the transactions the relayer keys got mined in the run's blocks with the gas they used.
import { createPublicClient, http, parseAbiItem, type Hex } from "viem";

export interface Authorization {
  from: Hex;
  nonce: Hex;
}

export interface ChainEvidence {
  used: number;
  /** Authorizations with more than one AuthorizationUsed log (never possible on FiatToken; checked anyway). */
  usedTwice: number;
  /** Relayer transactions mined in the run's blocks, how many reverted, their gas. */
  txs: number;
  reverted: number;
  gasUsed: bigint;
}

const authorizationState = parseAbiItem("function authorizationState(address authorizer, bytes32 nonce) view returns (bool)");
const authorizationUsed = parseAbiItem("event AuthorizationUsed(address indexed authorizer, bytes32 indexed nonce)");

export async function chainEvidence(o: {
  rpcUrl: string;
  token: Hex;
  authorizations: Authorization[];
  senders: Hex[];
  fromBlock: bigint;
}): Promise<ChainEvidence> {
  const client = createPublicClient({ transport: http(o.rpcUrl) });
  const toBlock = await client.getBlockNumber({ cacheTime: 0 });
  let used = 0;
  for (let i = 0; i < o.authorizations.length; i += 100) {
    const states = await Promise.all(
      o.authorizations
        .slice(i, i + 100)
        .map((a) =>
          client.readContract({ address: o.token, abi: [authorizationState], functionName: "authorizationState", args: [a.from, a.nonce] }),
        ),
    );
    used += states.filter(Boolean).length;
  }
  const ours = new Set(o.authorizations.map((a) => `${a.from.toLowerCase()}:${a.nonce.toLowerCase()}`));
  const logs = await client.getLogs({ address: o.token, event: authorizationUsed, fromBlock: o.fromBlock, toBlock });
  const seen = new Map<string, number>();
  for (const l of logs) {
    const key = `${l.args.authorizer!.toLowerCase()}:${l.args.nonce!.toLowerCase()}`;
    if (ours.has(key)) seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  const senders = new Set(o.senders.map((s) => s.toLowerCase()));
  let txs = 0;
  let reverted = 0;
  let gasUsed = 0n;
  for (let n = o.fromBlock; n <= toBlock; n++) {
    const receipts = (await client.request({ method: "eth_getBlockReceipts" as never, params: [`0x${n.toString(16)}`] as never })) as {
      from: string;
      status: string;
      gasUsed: string;
    }[];
    if (process.env.BENCH_DEBUG_BLOCKS) {
      const mine = (receipts ?? []).filter((r) => senders.has(r.from.toLowerCase()));
      const gas = mine.reduce((g, r) => g + BigInt(r.gasUsed), 0n);
      console.error(`  block ${n}: ${mine.length} of ours, ${gas} gas`);
    }
    for (const r of receipts ?? []) {
      if (!senders.has(r.from.toLowerCase())) continue;
      txs++;
      if (r.status !== "0x1") reverted++;
      gasUsed += BigInt(r.gasUsed);
    }
  }
  return { used, usedTwice: [...seen.values()].filter((n) => n > 1).length, txs, reverted, gasUsed };
}
