// The worker's relayer keys per chain: which lanes this process holds a lease on, which have
// gas above the floor, and how loaded each is. New work goes to the least-loaded healthy lane.
// The periodic refresh also keeps each lane's nonces contiguous: a nonce the chain is stuck on
// with nothing pending is rebroadcast from the stored raw tx, or filled with a 0-value
// self-transfer when no stored tx can take it.
import type { Logger } from "pino";
import { keccak256, type Hex, type PublicClient } from "viem";
import type { PrivateKeyAccount } from "viem/accounts";
import type { EnabledNetwork } from "../config/config.js";
import type { RelayerLanes } from "../db/relayer-lanes.js";
import { initialFees } from "./fees.js";
import { errorText, isAlreadySent } from "../evm/already-sent.js";
import type { WorkerMetrics } from "../metrics/worker.js";

interface Lane {
  account: PrivateKeyAccount;
  leased: boolean;
  funded: boolean;
  balance?: bigint;
  inFlight: number;
  /** chain nonce seen stuck (nothing pending) at the previous refresh */
  stuckAt?: bigint;
  /** our next nonce minus the chain's pending one, at the last refresh (leased lanes) */
  nonceLag?: bigint;
}

export interface RelayerPoolDeps {
  lanes: RelayerLanes;
  networks: readonly EnabledNetwork[];
  clientFor(chainId: number): PublicClient;
  accounts: readonly PrivateKeyAccount[];
  owner: string;
  logger: Logger;
  leaseTtlMs?: number;
  metrics?: WorkerMetrics;
}

export type LaneStatus = { chainId: number; address: string; leased: boolean; funded: boolean; balance?: string; inFlight: number };

export function createRelayerPool(deps: RelayerPoolDeps) {
  const { lanes, owner, logger } = deps;
  // Short enough that a restarted worker signs again soon after a crash; renewed every refresh.
  const ttl = deps.leaseTtlMs ?? 15_000;
  const byChain = new Map(
    deps.networks.map((n) => [
      n.chainId,
      new Map(deps.accounts.map((a) => [a.address.toLowerCase(), { account: a, leased: false, funded: true, inFlight: 0 } as Lane])),
    ]),
  );

  async function shareLeases(net: EnabledNetwork, live: number) {
    const chainLanes = byChain.get(net.chainId)!;
    const target = Math.ceil(chainLanes.size / Math.max(live, 1));
    const held = [...chainLanes.entries()].filter(([, l]) => l.leased);
    // Renew ours first; give back the surplus (the least loaded) when other workers need some.
    for (const [address, l] of held) l.leased = await lanes.acquire(net.chainId, address, owner, ttl);
    const stillHeld = [...chainLanes.entries()].filter(([, l]) => l.leased).sort((a, b) => a[1].inFlight - b[1].inFlight);
    for (const [address, l] of stillHeld.slice(0, Math.max(0, stillHeld.length - target))) {
      await lanes.release(net.chainId, address, owner);
      l.leased = false;
    }
    let count = Math.min(stillHeld.length, target);
    for (const [address, l] of chainLanes) {
      if (count >= target) break;
      if (!l.leased && (await lanes.acquire(net.chainId, address, owner, ttl))) {
        l.leased = true;
        count++;
      }
    }
  }

  async function checkLane(net: EnabledNetwork, client: PublicClient, address: string, l: Lane) {
    l.balance = await client.getBalance({ address: address as Hex });
    const funded = l.balance >= net.minRelayerBalance;
    if (funded !== l.funded) {
      if (funded) logger.info({ network: net.name, relayer: address }, "relayer funded again: taking work");
      else
        logger.error(
          { network: net.name, relayer: address, balance: l.balance.toString(), floor: net.minRelayerBalance.toString() },
          "relayer gas below the floor: it takes no new settlements",
        );
    }
    l.funded = funded;
    if (l.leased) await keepNoncesContiguous(net, client, address, l);
  }

  async function keepNoncesContiguous(net: EnabledNetwork, client: PublicClient, address: string, l: Lane) {
    const lane = await lanes.get(net.chainId, address);
    if (!lane) return;
    const [mined, pending] = await Promise.all([
      client.getTransactionCount({ address: address as Hex, blockTag: "latest" }).then(BigInt),
      client.getTransactionCount({ address: address as Hex, blockTag: "pending" }).then(BigInt),
    ]);
    l.nonceLag = lane.nextNonce - pending;
    const gap = mined < lane.nextNonce && pending === mined;
    // Seen twice in a row before acting, so a transaction between broadcast and pool is not mistaken for a gap.
    if (!gap || l.stuckAt !== mined) {
      l.stuckAt = gap ? mined : undefined;
      return;
    }
    l.stuckAt = undefined;
    const stored = await lanes.txsAtNonce(net.chainId, address, mined);
    if (stored.length) {
      // A transaction of ours owns this nonce: only ever hand it back to the node. Filling the
      // nonce with anything else could displace a payment that is still valid.
      for (const tx of stored.reverse()) {
        try {
          await client.sendRawTransaction({ serializedTransaction: tx.rawTx as Hex });
          logger.warn(
            { network: net.name, relayer: address, nonce: mined.toString(), tx: tx.hash },
            "nonce gap: rebroadcast the stored transaction",
          );
          return;
        } catch (err) {
          if (isAlreadySent(err)) return;
          logger.warn(
            { network: net.name, relayer: address, nonce: mined.toString(), tx: tx.hash, err: errorText(err) },
            "stored transaction refused",
          );
        }
      }
      return;
    }
    // No stored transaction can take this nonce (the lane was moved past it from outside): fill it.
    const fees = initialFees(await client.estimateFeesPerGas(), net.maxFeePerGas);
    const request = {
      chainId: net.chainId,
      type: "eip1559" as const,
      nonce: Number(mined),
      to: address as Hex,
      value: 0n,
      gas: 21_000n,
      ...fees,
    };
    const raw = await l.account.signTransaction(request);
    const signed = { hash: keccak256(raw), raw, gas: request.gas, ...fees };
    if (!(await lanes.storeFiller(net.chainId, address, owner, mined, signed))) return;
    await client.sendRawTransaction({ serializedTransaction: raw });
    deps.metrics?.filled(net.name, address);
    logger.warn(
      { network: net.name, relayer: address, nonce: mined.toString(), tx: signed.hash },
      "nonce gap: filled with a self-transfer",
    );
  }

  return {
    async refresh(): Promise<void> {
      await lanes.heartbeat(owner);
      const live = await lanes.liveWorkers(ttl);
      for (const net of deps.networks) {
        const client = deps.clientFor(net.chainId);
        await shareLeases(net, live);
        const loads = await lanes.inFlight(net.chainId);
        for (const [address, l] of byChain.get(net.chainId)!) {
          l.inFlight = loads.get(address) ?? 0;
          await checkLane(net, client, address, l).catch((err: unknown) =>
            logger.warn({ err, relayer: address, network: net.name }, "relayer check failed"),
          );
          deps.metrics?.lane(net.name, address, {
            balanceWei: l.balance,
            inFlight: l.inFlight,
            nonceLag: l.leased ? l.nonceLag : undefined,
          });
        }
      }
    },

    /** The least-loaded leased lane with gas, or undefined when this worker has none. */
    pick(chainId: number): PrivateKeyAccount | undefined {
      let best: Lane | undefined;
      for (const l of byChain.get(chainId)?.values() ?? []) {
        if (l.leased && l.funded && (!best || l.inFlight < best.inFlight)) best = l;
      }
      if (best) best.inFlight++;
      return best?.account;
    },

    /**
     * The one lane a settlement must be sent from (upto names its facilitator): its key when this
     * worker leases it with gas, else why not. Never another lane: the contract would refuse it.
     */
    named(
      chainId: number,
      address: string,
    ): { account: PrivateKeyAccount } | { unavailable: "not_configured" | "unfunded" | "leased_elsewhere" } {
      const l = byChain.get(chainId)?.get(address.toLowerCase());
      if (!l) return { unavailable: "not_configured" };
      if (!l.funded) return { unavailable: "unfunded" };
      if (!l.leased) return { unavailable: "leased_elsewhere" };
      l.inFlight++;
      return { account: l.account };
    },

    /** The key for a lane this worker leases (to sign a replacement), else undefined. */
    leasedAccount(chainId: number, address: string): PrivateKeyAccount | undefined {
      const l = byChain.get(chainId)?.get(address.toLowerCase());
      return l?.leased ? l.account : undefined;
    },

    status(): LaneStatus[] {
      return [...byChain.entries()].flatMap(([chainId, m]) =>
        [...m.entries()].map(([address, l]) => ({
          chainId,
          address,
          leased: l.leased,
          funded: l.funded,
          balance: l.balance?.toString(),
          inFlight: l.inFlight,
        })),
      );
    },

    async leave(): Promise<void> {
      await lanes.leave(owner);
    },
  };
}

export type RelayerPool = ReturnType<typeof createRelayerPool>;
