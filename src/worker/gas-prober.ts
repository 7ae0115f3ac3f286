// The re-simulation of settlements that are ready to sign in the same event-loop turn on a chain,
// in one eth_call per group (src/evm/gas-probe.ts) instead of one estimate each: the node runs
// each transfer once instead of searching for its gas, and answers once. Groups hold only
// mutually independent transfers (no payment's outcome rests on another in its group, as for
// verify's simulations: transfer-simulator.ts), and each settlement's gas limit comes from what
// its own call used. Anything the probe cannot vouch for (a call that failed, a node without
// state overrides) gets undefined: the caller estimates that settlement alone, as before, where
// a refusal is diagnosed. A node that cannot be reached is an RPC failure like any other.
import type { Logger } from "pino";
import { BaseError, HttpRequestError, TimeoutError, type Address, type Hex, type PublicClient } from "viem";
import { calldataGas, probeGas, STORAGE_FLIP_GAS, TX_BASE_GAS } from "../evm/gas-probe.js";
import { groupIndependent } from "../evm/transfer-simulator.js";
import type { Call } from "../schemes/scheme.js";

export interface ProbeAsk {
  /** The relayer that will send it (the eth_call's sender). */
  relayer: Address;
  asset: string;
  payer: string;
  payTo: string;
  call: Call;
}

/**
 * What a call measured after others in its probe may cost more on its own: accounts and slots
 * they warmed are cold again (two accounts, token proxy and implementation; six slots). A payee
 * balance they took from zero may be zero again: STORAGE_FLIP_GAS.
 */
const COLD_ALLOWANCE = 2n * 2_600n + 6n * 2_100n;
/** After a node refused or ignored the probe, re-simulations on its chain estimate for this long. */
const REFUSED_PAUSE_MS = 60_000;

const unreachable = (err: unknown) =>
  err instanceof BaseError && err.walk((e) => e instanceof HttpRequestError || e instanceof TimeoutError) !== null;

/**
 * Whether a chain's node runs the probe, one judgement for the single and the batch
 * re-simulations (gas-prober.ts, lane-signer.ts): a node that refused it or answered without
 * running it (no state overrides) is not asked again for a minute.
 */
export function createProbeSupport(logger: Logger) {
  const pausedUntil = new Map<number, number>();
  return {
    usable: (chainId: number) => (pausedUntil.get(chainId) ?? 0) <= Date.now(),
    /** Judges a failed probe: throws it again when the node could not be reached (the step retries). */
    failed(chainId: number, err: unknown): void {
      if (unreachable(err)) throw err;
      if ((pausedUntil.get(chainId) ?? 0) <= Date.now())
        logger.warn({ err, chainId }, "the node did not run the gas probe: settlements are estimated instead for a minute");
      pausedUntil.set(chainId, Date.now() + REFUSED_PAUSE_MS);
    },
  };
}

export type ProbeSupport = ReturnType<typeof createProbeSupport>;

interface Pending {
  ask: ProbeAsk;
  resolve(gas: bigint | undefined): void;
  reject(err: unknown): void;
}

export function createGasProber(clientFor: (chainId: number) => PublicClient, support: ProbeSupport) {
  const queues = new Map<number, Pending[]>();

  async function run(chainId: number, group: Pending[]) {
    try {
      const { used } = await probeGas(
        clientFor(chainId),
        group[0]!.ask.relayer,
        group.map((p) => ({ to: p.ask.call.to, data: p.ask.call.data })),
      );
      group.forEach((p, i) =>
        p.resolve(used[i] ? TX_BASE_GAS + calldataGas(p.ask.call.data) + used[i]! + COLD_ALLOWANCE + STORAGE_FLIP_GAS : undefined),
      );
    } catch (err) {
      try {
        support.failed(chainId, err);
      } catch {
        for (const p of group) p.reject(err);
        return;
      }
      for (const p of group) p.resolve(undefined);
    }
  }

  function flush(chainId: number) {
    const pending = queues.get(chainId) ?? [];
    queues.delete(chainId);
    const asks = pending.map((p) => ({
      p,
      sim: {
        asset: p.ask.asset as Hex,
        from: p.ask.payer as Hex,
        to: p.ask.payTo as Hex,
        calldata: p.ask.call.data,
        blockTag: "latest" as const,
      },
    }));
    for (const group of groupIndependent(asks))
      void run(
        chainId,
        group.map((g) => g.p),
      );
  }

  /** The gas limit to sign with before headroom (like an estimate), or undefined: estimate alone. */
  return function probe(chainId: number, ask: ProbeAsk): Promise<bigint | undefined> {
    if (!support.usable(chainId)) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      let queue = queues.get(chainId);
      if (!queue) {
        queues.set(chainId, (queue = []));
        setImmediate(() => flush(chainId));
      }
      queue.push({ ask, resolve, reject });
    });
  };
}

export type GasProber = ReturnType<typeof createGasProber>;
