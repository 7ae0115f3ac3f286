// What every stage of the worker's state machine shares: its dependencies, the fault points of
// the crash tests, and the two questions every stage may ask of a row (which signature to send,
// and whether its authorization is already spent).
import type { Logger } from "pino";
import type { Block, Hex, PublicClient } from "viem";
import { recent } from "../runtime/recent.js";
import type { EnabledNetwork } from "../config/config.js";
import type { SettlementRow, SettlementsRepo } from "../db/settlements-repo.js";
import { readPayerCode } from "../evm/payment-reads.js";
import { classifySignature, type ClassifiedSignature } from "../evm/signature.js";
import type { MethodRegistry, SettlementSide } from "../schemes/scheme.js";
import type { BlockClock } from "./block-clock.js";
import type { ChainWatch } from "./chain-watch.js";
import type { RelayerPool } from "./relayer-pool.js";
import type { WorkerMetrics } from "../metrics/worker.js";
import type { GasMeter } from "../policy/gas-budget.js";

/** How long a block read is shared: short enough that a reorg is seen on the next look. */
const SHARED_READ_MS = 250;

export interface SettlerDeps {
  repo: SettlementsRepo;
  /** The payment methods: each row's own one builds its call and reads its outcome. */
  methods: MethodRegistry;
  networks: readonly EnabledNetwork[];
  clientFor(chainId: number): PublicClient;
  pool: Pick<RelayerPool, "pick" | "named" | "leasedAccount">;
  owner: string;
  clockFor(chainId: number): BlockClock;
  /** The chain's block watcher: receipts of our transactions as blocks come (chain-watch.ts). */
  watchFor(chainId: number): ChainWatch;
  logger: Logger;
  faultPoint?: string;
  /** Up to this many claimed settlements share one transaction through Multicall3 (1: off). */
  batchMax?: number;
  /** True once the worker is shutting down: waiting loops end (everything is already stored). */
  stopping?: () => boolean;
  /** Longest a job waits for a receipt before leaving the row to the reconciler. */
  receiptTimeoutMs?: number;
  metrics?: WorkerMetrics;
  gasMeter?: Pick<GasMeter, "charge">;
}

export interface SettleContext extends SettlerDeps {
  receiptTimeoutMs: number;
  /** The row's own payment method, worker side. */
  sideOf(row: SettlementRow): SettlementSide;
  /** Crash tests: the worker SIGKILLs itself here when FAULT_POINT names this point. */
  fault(point: string): void;
  effectiveSignature(row: SettlementRow, client: PublicClient): Promise<ClassifiedSignature>;
  /** The latest block, shared by the settlements that ask within a quarter second of each other. */
  latestBlock(chainId: number, client: PublicClient): Promise<Block>;
  /** Block `n`, shared the same way (many settlements of one block confirm together). */
  blockAt(chainId: number, client: PublicClient, n: bigint): Promise<Block>;
  /** Raw transactions this process just signed, so the broadcast need not read them back. */
  justSigned: Map<string, { hash: string; raw: string }>;
  /**
   * When this process broadcast a settlement's transaction (epoch ms), until it starts waiting
   * for it; `only` is its hash when this process signed it just before (the row's only one).
   */
  justBroadcast: Map<string, { at: number; only?: string }>;
  spentOr(
    row: SettlementRow,
    client: PublicClient,
    fromBlock: bigint,
    otherwise: () => Promise<SettlementRow | undefined>,
  ): Promise<SettlementRow | undefined>;
}

export function createSettleContext(deps: SettlerDeps): SettleContext {
  const { repo, logger, methods } = deps;
  const sideOf = (row: SettlementRow) => methods.evmForRow(row).settlement;
  const fault = (point: string) => {
    if (deps.faultPoint === point) {
      logger.warn({ point }, "fault point reached: killing the worker");
      process.kill(process.pid, "SIGKILL");
    }
  };

  /** The ERC-6492 deployment is kept only while the payer's wallet does not exist yet. */
  async function effectiveSignature(row: SettlementRow, client: PublicClient): Promise<ClassifiedSignature> {
    const sig = classifySignature(row.signature as Hex);
    if (!sig.deployment) return sig;
    return (await readPayerCode(client, row.payer as Hex)) ? { inner: sig.inner } : sig;
  }

  /** A spent authorization is explained from the logs (paid, or canceled); otherwise `otherwise` decides. */
  async function spentOr(row: SettlementRow, client: PublicClient, fromBlock: bigint, otherwise: () => Promise<SettlementRow | undefined>) {
    const spent = await sideOf(row).isSpent(client, row);
    return spent ? sideOf(row).explainSpent({ repo, logger }, client, row, fromBlock) : otherwise();
  }

  const heads = new Map<number, () => Promise<Block>>();
  const latestBlock = (chainId: number, client: PublicClient) => {
    let read = heads.get(chainId);
    if (!read) heads.set(chainId, (read = recent(() => client.getBlock({ blockTag: "latest" }), SHARED_READ_MS)));
    return read();
  };
  const blocks = new Map<string, () => Promise<Block>>();
  const blockAt = (chainId: number, client: PublicClient, n: bigint) => {
    const key = `${chainId}:${n}`;
    let read = blocks.get(key);
    if (!read) {
      blocks.set(key, (read = recent(() => client.getBlock({ blockNumber: n }), SHARED_READ_MS)));
      setTimeout(() => blocks.delete(key), SHARED_READ_MS).unref();
    }
    return read();
  };

  return {
    ...deps,
    receiptTimeoutMs: deps.receiptTimeoutMs ?? 60_000,
    sideOf,
    fault,
    effectiveSignature,
    spentOr,
    latestBlock,
    blockAt,
    justSigned: new Map(),
    justBroadcast: new Map(),
  };
}
