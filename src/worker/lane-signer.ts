// Signing on a relayer lane, group-committed: every settlement that is ready to sign on the lane
// while the previous commit runs goes into the next one, under one lane lock, taking consecutive
// nonces. With SETTLE_BATCH_MAX above 1 the batchable ones among them are packed, up to that
// many, into one Multicall3 transaction each. Each settlement was re-simulated alone just before,
// so a batch needs no simulation of its own: its gas limit is the members' estimates added up
// (one transaction's base cost, the multicall's per-call cost), with the usual headroom.
import { keccak256 } from "viem";
import type { PrivateKeyAccount } from "viem/accounts";
import { groupCommitBy } from "../db/group-commit.js";
import type { SettlementRow, SignedResult, SignItem } from "../db/settlements-repo.js";
import type { Call } from "../schemes/scheme.js";
import { batchCall } from "./batch-call.js";
import type { SettleContext } from "./settle-context.js";

export interface LaneRequest {
  relayer: { chainId: number; address: string; owner: string };
  account: PrivateKeyAccount;
  row: SettlementRow;
  /** The settlement's own call, and its gas estimate (the re-simulation). */
  call: Call;
  gas: bigint;
  fees: { maxFeePerGas: bigint; maxPriorityFeePerGas: bigint };
  batchable: boolean;
  searchFromBlock: bigint;
}

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
        const gas = lone
          ? withHeadroom(lone.gas)
          : withHeadroom(going.reduce((sum, r) => sum + r.gas - BASE_TX_GAS + PER_CALL_GAS, BASE_TX_GAS));
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

  return groupCommitBy(
    (r: LaneRequest) => `${r.relayer.chainId}:${r.relayer.address.toLowerCase()}`,
    async (_lane, requests: LaneRequest[]): Promise<(SignedResult | undefined)[]> => {
      const groups: LaneRequest[][] = [];
      let open: LaneRequest[] | undefined;
      for (const r of requests) {
        if (batchMax > 1 && r.batchable) {
          if (!open || open.length >= batchMax) groups.push((open = []));
          open.push(r);
        } else groups.push([r]);
      }
      const results = await ctx.repo.allocateSignAndStoreMany(groups.map(itemFor), requests[0]!.relayer);
      const resultOf = new Map<LaneRequest, SignedResult | undefined>();
      groups.forEach((g, i) => g.forEach((r) => resultOf.set(r, results[i])));
      return requests.map((r) => resultOf.get(r));
    },
  );
}
