// SIMULATED Solana cluster: one in-process LiteSVM (the real Solana runtime executing real
// programs), not a validator. LiteSVM has no slots, blockhash queue or status cache of its own
// that behave like a cluster's, so the cluster adds them (slot-clock.ts, execution.ts) around
// its accounts and fixtures (accounts.ts). The JSON-RPC face over it is rpc-server.ts; nothing
// in production code knows LiteSVM is behind the URL.
import { randomBytes } from "node:crypto";
import { LiteSVM } from "litesvm";
import { toBase58 } from "../../svm/wire-transaction.js";
import { createClusterAccounts } from "./accounts.js";
import { createExecution } from "./execution.js";
import { createSlotClock } from "./slot-clock.js";
import { feeOf } from "./transaction-wire.js";

export type * from "./cluster-types.js";
export { rpcErrorOf } from "./execution-report.js";
export { MAX_PROCESSING_AGE } from "./slot-clock.js";
export {
  decodeMintData,
  decodeTokenAccountData,
  isTokenProgram,
  TOKEN_2022_PROGRAM_ADDRESS,
  tokenProgramAddress,
  uiTokenAmount,
} from "./token-accounts.js";
export { feeOf, parseWireTransaction, signaturesVerify, TransactionDecodeError } from "./transaction-wire.js";

/** Full genesis hashes; a cluster's CAIP-2 reference is the first 32 characters. */
export const SOLANA_GENESIS_HASHES = {
  mainnet: "5eykt4UsFv8P8NJdTREpY1vzqKqZKvdpKuc147dw2N9d",
  devnet: "EtWTRABZaYq6iMfeYKouRu166VU2xqa1wcaWoxPkrZBG",
  testnet: "4uhcVJyU9pJkvQyS88uRDiswHXSCkY3zQawwpjk2NsNY",
} as const;

export interface LocalClusterOptions {
  /** Slot length; slots advance on this timer even when idle. Default 400 ms. */
  slotMs?: number;
  /** Slots after confirmation until a slot is finalized. Default 4. */
  finalizeSlots?: number;
  /** What getGenesisHash answers (see SOLANA_GENESIS_HASHES); default a random one, like a fresh test validator. */
  genesisHash?: string;
  /** Start without the slot timer (tests then advance with warp). */
  paused?: boolean;
}

export type LocalCluster = ReturnType<typeof createLocalCluster>;

export function createLocalCluster(opts: LocalClusterOptions = {}) {
  const finalizeSlots = BigInt(opts.finalizeSlots ?? 4);
  const genesisHash = opts.genesisHash ?? toBase58(randomBytes(32));
  // The cluster checks blockhash age and signature uniqueness itself: LiteSVM's blockhash check
  // only accepts its single latest hash, and its history would also remember transactions that
  // never landed (a real node lets those be retried).
  const svm = new LiteSVM().withBlockhashCheck(false).withSigverify(false).withTransactionHistory(0n);
  const clock = createSlotClock(svm, { slotMs: opts.slotMs ?? 400, finalizeSlots });
  const accounts = createClusterAccounts(svm);
  const execution = createExecution(svm, clock, accounts);

  clock.warp(Number(finalizeSlots) + 2);
  if (!opts.paused) clock.resumeSlots();

  return {
    /** The LiteSVM instance (for fixtures; production code only sees the RPC). */
    svm,
    genesisHash,
    finalizeSlots,
    get slot() {
      return clock.slot;
    },
    get blockHeight() {
      return clock.blockHeight;
    },
    slotAt: clock.slotAt,
    blockHeightAt: clock.blockHeightAt,
    latestBlockhash: clock.latestBlockhash,
    isBlockhashValid: clock.isBlockhashValid,
    warp: clock.warp,
    pauseSlots: clock.pauseSlots,
    resumeSlots: clock.resumeSlots,
    /** Stops the slot timer for good (the process may exit). */
    close: clock.pauseSlots,
    ...accounts,
    ...execution,
    feeOf,
  };
}
