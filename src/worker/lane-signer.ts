// Signing on a relayer lane, group-committed: every settlement that is ready to sign on the lane
// while the previous commit runs goes into the next one, under one lane lock, taking consecutive
// nonces. With SETTLE_BATCH_MAX above 1 the batchable ones among them are packed, up to that
// many, into one Multicall3 transaction each, re-simulated once per batch rather than once per
// settlement: the gas probe runs the batch once and says which members would go through and
// what the batch costs. A member that would fail, or a batch of one, is sent back to be simulated
// and sent alone (ALONE), where its refusal is diagnosed as any single settlement's is.
import { keccak256, type Hex } from "viem";
import type { PrivateKeyAccount } from "viem/accounts";
import { groupCommitBy } from "../db/group-commit.js";
import type { SettlementRow, SignedResult, SignItem } from "../db/settlements-repo.js";
import type { Call } from "../schemes/scheme.js";
import { calldataGas, probeGas, STORAGE_FLIP_GAS, TX_BASE_GAS } from "../evm/gas-probe.js";
import { aggregate3Successes } from "../evm/multicall.js";
import { isRevert } from "../evm/payment-reads.js";
import { batchCall } from "./batch-call.js";
import type { ProbeSupport } from "./gas-prober.js";
import type { SettleContext } from "./settle-context.js";

export interface LaneRequest {
  relayer: { chainId: number; address: string; owner: string };
  account: PrivateKeyAccount;
  row: SettlementRow;
  /** The settlement's own call, and its gas estimate (the re-simulation); none yet for a batch candidate. */
  call: Call;
  gas?: bigint;
  /** Set for the members of a batch: the gas limit of the whole batch as it was simulated. */
  batchLimit?: bigint;
  fees: { maxFeePerGas: bigint; maxPriorityFeePerGas: bigint };
  batchable: boolean;
  searchFromBlock: bigint;
}

/** The answer to a batch candidate that must be simulated and sent on its own. */
export const ALONE = "alone" as const;

/** With batching on, how long a lane waits after a quiet spell for settlements to batch together. */
const BATCH_LINGER_MS = 25;

/** Headroom over an estimate: a 1271 wallet's check may cost more at inclusion time. */
const withHeadroom = (gas: bigint) => (gas * 5n) / 4n + 10_000n;

export function createLaneSigner(ctx: SettleContext, probes: ProbeSupport) {
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
        // A batch keeps the limit it was simulated with (a member dropped here only leaves room).
        const batchLimit = going[0]!.batchLimit;
        const lone = batchLimit === undefined ? going[0]! : undefined;
        const gas = lone ? withHeadroom(lone.gas!) : batchLimit!;
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
   * The members of a would-be batch that would go through now, and the batch's gas limit; the
   * others are for ALONE. One eth_call: the whole batch run once by the gas probe, which says
   * what it used and what aggregate3 answered for each member.
   *
   * The limit is what the batch used plus what can change before inclusion, and no more: a
   * block is filled by its transactions' limits, so a wide margin leaves batches for the next
   * block. For a payer without code only storage going to or from zero can (about 20,000 gas
   * per payTo); a contract wallet's check (ERC-1271) that costs more at inclusion than now runs
   * out of gas alone, and that member goes back in line (receipts.ts).
   */
  async function simulateBatch(group: LaneRequest[]): Promise<{ going: LaneRequest[]; limit: bigint; alone: LaneRequest[] }> {
    const chainId = group[0]!.relayer.chainId;
    // A node that does not run the probe (no state overrides): an eth_call and an estimate.
    if (!probes.usable(chainId)) return estimateBatch(group);
    const call = batchCall(
      ctx.methods,
      group.map((r) => r.row),
    );
    let probed: Awaited<ReturnType<typeof probeGas>>;
    try {
      probed = await probeGas(ctx.clientFor(chainId), group[0]!.account.address, [call]);
    } catch (err) {
      probes.failed(chainId, err);
      return estimateBatch(group);
    }
    const ok = probed.used[0] ? aggregate3Successes(probed.results[0]!, group.length) : undefined;
    if (!ok) return { going: [], limit: 0n, alone: group };
    const going = group.filter((_, i) => ok[i]);
    const alone = group.filter((_, i) => !ok[i]);
    if (going.length < 2) return { going: [], limit: 0n, alone: group };
    // Measured with every member in; the ones left out only leave room.
    const used = TX_BASE_GAS + calldataGas(call.data) + probed.used[0]!;
    const payTos = new Set(going.map((r) => r.row.payTo.toLowerCase()));
    return { going, limit: used + used / 20n + STORAGE_FLIP_GAS * BigInt(payTos.size) + 10_000n, alone };
  }

  /** simulateBatch without the probe: one eth_call says which members go, one estimate prices them. */
  async function estimateBatch(group: LaneRequest[]): Promise<{ going: LaneRequest[]; limit: bigint; alone: LaneRequest[] }> {
    const client = ctx.clientFor(group[0]!.relayer.chainId);
    const from = group[0]!.account.address;
    try {
      const { data } = await client.call({
        account: from,
        ...batchCall(
          ctx.methods,
          group.map((r) => r.row),
        ),
        blockTag: "latest",
      });
      const ok = aggregate3Successes((data ?? "0x") as Hex, group.length);
      if (!ok) return { going: [], limit: 0n, alone: group };
      const going = group.filter((_, i) => ok[i]);
      const alone = group.filter((_, i) => !ok[i]);
      if (going.length < 2) return { going: [], limit: 0n, alone: group };
      const total = await client.estimateGas({
        account: from,
        ...batchCall(
          ctx.methods,
          going.map((r) => r.row),
        ),
        blockTag: "latest",
      });
      const payTos = new Set(going.map((r) => r.row.payTo.toLowerCase()));
      return { going, limit: total + total / 20n + STORAGE_FLIP_GAS * BigInt(payTos.size) + 10_000n, alone };
    } catch (err) {
      if (!isRevert(err)) throw err;
      return { going: [], limit: 0n, alone: group };
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
      for (const { going, limit, alone } of simulated) {
        for (const r of alone) verdict.set(r, ALONE);
        const priced = going.map((r) => ({ ...r, batchLimit: limit }));
        going.forEach((r, i) => verdict.set(r, priced[i]!));
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
