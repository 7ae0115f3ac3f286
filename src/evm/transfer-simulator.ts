// Simulations of transferWithAuthorization asked for in one event-loop turn share eth_calls:
// independent transfers go through one Multicall3 aggregate3, each allowed to fail alone. The
// node then sets up one EVM run instead of one per payment, and the provider bills one call.
//
// A verdict must not depend on the company a payment keeps, so:
// - a group never holds two transfers where one's payer is the other's payer or payee (a
//   transfer's outcome reads only its payer's balance and nonce, which only such a neighbour
//   could change); the callers only send payers known to have no code (no ERC-1271 state reads);
// - only a success is taken from the group; anything that failed there is simulated again on
//   its own, so every refusal, and its message, is the one a lone eth_call gives;
// - a chain without Multicall3, or a group call that errors, falls back to lone calls.
import type { Address, Hex, PublicClient } from "viem";
import { aggregate3Calldata, aggregate3Successes, MULTICALL3 } from "./multicall.js";

export type Outcome<T> = { ok: true; value: T } | { ok: false; message: string };

export interface TransferSimulation {
  asset: Address;
  from: Address;
  to: Address;
  calldata: Hex;
  blockTag: "latest" | "pending";
}

export type SimulateTransfer = (s: TransferSimulation) => Promise<Outcome<true>>;

/** At most this many transfers in one aggregate3 (a few million gas, under any eth_call cap). */
export const MAX_GROUP = 32;

interface Ask {
  sim: TransferSimulation;
  resolve(o: Outcome<true>): void;
  reject(err: unknown): void;
}

interface Group {
  asks: Ask[];
  payers: Set<string>;
  touched: Set<string>;
}

/** Greedy packing into groups of mutually independent transfers, in arrival order. */
export function groupIndependent<T extends { sim: TransferSimulation }>(asks: readonly T[], max = MAX_GROUP): T[][] {
  const groups: (Group & { asks: T[] })[] = [];
  for (const a of asks) {
    const from = `${a.sim.asset}:${a.sim.from}`.toLowerCase();
    const to = `${a.sim.asset}:${a.sim.to}`.toLowerCase();
    let g = groups.find(
      (g) => g.asks.length < max && g.asks[0]!.sim.blockTag === a.sim.blockTag && !g.touched.has(from) && !g.payers.has(to),
    );
    if (!g) groups.push((g = { asks: [], payers: new Set(), touched: new Set() }));
    g.asks.push(a);
    g.payers.add(from);
    g.touched.add(from).add(to);
  }
  return groups.map((g) => g.asks);
}

/**
 * `lone` simulates one transfer by itself (it classifies reverts and throws when the node
 * cannot be asked); the returned function coalesces.
 */
export function createTransferSimulator(client: PublicClient, lone: SimulateTransfer): SimulateTransfer {
  let queue: Ask[] = [];
  let multicallDeployed: Promise<boolean> | undefined;

  const hasMulticall = () =>
    (multicallDeployed ??= client.getCode({ address: MULTICALL3 }).then(
      (code) => !!code && code !== "0x",
      () => {
        multicallDeployed = undefined; // ask again next time
        return false;
      },
    ));

  const alone = (a: Ask) => lone(a.sim).then(a.resolve, a.reject);

  async function together(asks: Ask[]): Promise<void> {
    let successes: boolean[] | undefined;
    try {
      if (await hasMulticall()) {
        const data = aggregate3Calldata(asks.map((a) => ({ target: a.sim.asset, allowFailure: true, callData: a.sim.calldata })));
        const out = await client.call({ to: MULTICALL3, data, blockTag: asks[0]!.sim.blockTag });
        successes = aggregate3Successes(out.data ?? "0x", asks.length);
      }
    } catch {
      successes = undefined;
    }
    asks.forEach((a, i) => (successes?.[i] ? a.resolve({ ok: true, value: true }) : void alone(a)));
  }

  function flush() {
    const asks = queue;
    queue = [];
    for (const group of groupIndependent(asks)) void (group.length === 1 ? alone(group[0]!) : together(group));
  }

  return (sim) =>
    new Promise((resolve, reject) => {
      if (queue.push({ sim, resolve, reject }) === 1) setImmediate(flush);
    });
}
