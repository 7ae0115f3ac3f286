// Signing on a relayer lane, group-committed: every settlement that is ready to sign on the lane
// while the previous commit runs goes into the next one, under one lane lock, taking consecutive
// nonces. With SETTLE_BATCH_MAX above 1 the batchable ones among them are packed, up to that
// many, into one Multicall3 transaction each, re-simulated once per batch rather than once per
// settlement: one call of the batch says which members would go through, one estimate prices
// the batch of those. A member that would fail, or a batch of one, is sent back to be simulated
// and sent alone (ALONE), where its refusal is diagnosed as any single settlement's is.
import { keccak256, type Hex } from "viem";
import type { PrivateKeyAccount } from "viem/accounts";
import { groupCommitBy } from "../db/group-commit.js";
import type { SettlementRow, SignedResult, SignItem } from "../db/settlements-repo.js";
import type { Call } from "../schemes/scheme.js";
import { aggregate3Successes } from "../evm/multicall.js";
import { isRevert } from "../evm/payment-reads.js";
import { batchCall } from "./batch-call.js";
import type { SettleContext } from "./settle-context.js";

export interface LaneRequest {
  relayer: { chainId: number; address: string; owner: string };
  account: PrivateKeyAccount;
  row: SettlementRow;
  /** The settlement's own call, and its gas estimate (the re-simulation); none yet for a batch candidate. */
  call: Call;
  gas?: bigint;
  fees: { maxFeePerGas: bigint; maxPriorityFeePerGas: bigint };
  batchable: boolean;
  searchFromBlock: bigint;
}

/** The answer to a batch candidate that must be simulated and sent on its own. */
export const ALONE = "alone" as const;

/** With batching on, how long a lane waits after a quiet spell for settlements to batch together. */
const BATCH_LINGER_MS = 25;

const BASE_TX_GAS = 21_000n;
/** What one more call costs inside Multicall3's aggregate3 beyond the call itself (generous). */
const PER_CALL_GAS = 8_000n;
/** Headroom over an estimate: a 1271 wallet's check may cost more at inclusion time. */
const withHeadroom = (gas: bigint) => (gas * 5n) / 4n + 10_000n;

export function createLaneSigner(ctx: SettleContext) {
  const batchMax = Math.max(1, ctx.batchMax ?? 1);

  function itemFor(group: LaneRequest[]): SignItem {
    return {
      members: group.map((r) => ({
        id: r.row.id,
        from: r.row.state,
        version: r.row.version,
        patch: { searchFromBlock: r.row.searchFromBlock ?? r.searchFromBlock },
      })),
      async sign(nonce, ids) {
        const going = group.filter((r) => ids.includes(r.row.id));
        const lone = going.length === 1 ? going[0]! : undefined;
        // A batch's estimate covers its members; one dropped here only makes it smaller.
        const gas = lone
          ? withHeadroom(lone.gas!)
          : withHeadroom(going.reduce((sum, r) => sum + r.gas! - BASE_TX_GAS + PER_CALL_GAS, BASE_TX_GAS));
        const max = (pick: (r: LaneRequest) => bigint) => going.map(pick).reduce((a, b) => (a > b ? a : b));
        const request = {
          chainId: going[0]!.relayer.chainId,
          type: "eip1559" as const,
          nonce: Number(nonce),
          ...(lone
            ? lone.call
            : batchCall(
                ctx.methods,
                going.map((r) => r.row),
              )),
          gas,
          maxFeePerGas: max((r) => r.fees.maxFeePerGas),
          maxPriorityFeePerGas: max((r) => r.fees.maxPriorityFeePerGas),
        };
        const raw = await going[0]!.account.signTransaction(request);
        return { hash: keccak256(raw), raw, gas, maxFeePerGas: request.maxFeePerGas, maxPriorityFeePerGas: request.maxPriorityFeePerGas };
      },
    };
  }

  /**
   * The members of a would-be batch that would go through now, each with its share of the batch's
   * estimate; the others are for ALONE. One eth_call and one estimate for the whole batch.
   */
  async function simulateBatch(group: LaneRequest[]): Promise<{ going: { request: LaneRequest; gas: bigint }[]; alone: LaneRequest[] }> {
    const client = ctx.clientFor(group[0]!.relayer.chainId);
    const from = group[0]!.account.address;
    try {
      const call = batchCall(
        ctx.methods,
        group.map((r) => r.row),
      );
      const { data } = await client.call({ account: from, ...call, blockTag: "latest" });
      const ok = aggregate3Successes((data ?? "0x") as Hex, group.length);
      if (!ok) return { going: [], alone: group };
      const going = group.filter((_, i) => ok[i]);
      const alone = group.filter((_, i) => !ok[i]);
      if (going.length < 2) return { going: [], alone: group };
      const total = await client.estimateGas({
        account: from,
        ...batchCall(
          ctx.methods,
          going.map((r) => r.row),
        ),
        blockTag: "latest",
      });
      // Shared out so that the members' sum rebuilds the batch's estimate in sign().
      const share = (total - BASE_TX_GAS) / BigInt(going.length) - PER_CALL_GAS + BASE_TX_GAS + 1n;
      return { going: going.map((request) => ({ request, gas: share })), alone };
    } catch (err) {
      if (!isRevert(err)) throw err;
      return { going: [], alone: group };
    }
  }

  return groupCommitBy(
    (r: LaneRequest) => `${r.relayer.chainId}:${r.relayer.address.toLowerCase()}`,
    async (_lane, requests: LaneRequest[]): Promise<(SignedResult | typeof ALONE | undefined)[]> => {
      const singles = requests.filter((r) => r.gas !== undefined);
      const candidates = requests.filter((r) => r.gas === undefined);
      const verdict = new Map<LaneRequest, LaneRequest | typeof ALONE>();
      for (const r of singles) verdict.set(r, r);
      const chunks: LaneRequest[][] = [];
      for (let i = 0; i < candidates.length; i += batchMax) chunks.push(candidates.slice(i, i + batchMax));
      const simulated = await Promise.all(chunks.map(simulateBatch));
      const groups: LaneRequest[][] = singles.map((r) => [r]);
      for (const { going, alone } of simulated) {
        for (const r of alone) verdict.set(r, ALONE);
        const priced = going.map((g) => ({ ...g.request, gas: g.gas }));
        going.forEach((g, i) => verdict.set(g.request, priced[i]!));
        if (priced.length) groups.push(priced);
      }
      const results = groups.length ? await ctx.repo.allocateSignAndStoreMany(groups.map(itemFor), requests[0]!.relayer) : [];
      const resultOf = new Map<LaneRequest, SignedResult | undefined>();
      groups.forEach((g, i) => g.forEach((r) => resultOf.set(r, results[i])));
      return requests.map((r) => {
        const v = verdict.get(r);
        return v === ALONE ? ALONE : v && resultOf.get(v);
      });
    },
    batchMax > 1 ? BATCH_LINGER_MS : 0,
  );
}
