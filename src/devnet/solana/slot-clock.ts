// The slots and blockhashes of the SIMULATED Solana cluster (LiteSVM, not a validator). LiteSVM
// has no slots or blockhash queue that behave like a cluster's, so this adds them: slots tick on
// a timer, every slot issues a blockhash that stays usable for 150 blocks, and each commitment
// level sees the bank a fixed number of slots back.
import { randomBytes } from "node:crypto";
import { Clock, type LiteSVM } from "litesvm";
import { toBase58 } from "../../svm/wire-transaction.js";
import type { Commitment } from "./cluster-types.js";

/** A blockhash is usable while the block height is at most its own height plus this. */
export const MAX_PROCESSING_AGE = 150n;
/** Slots whose blockhash and time are remembered (commitment lookups, validity window). */
const SLOT_MEMORY = 512;

interface SlotInfo {
  slot: bigint;
  blockHeight: bigint;
  blockhash: string;
  unixTime: number;
}

export type SlotClock = ReturnType<typeof createSlotClock>;

export function createSlotClock(svm: LiteSVM, o: { slotMs: number; finalizeSlots: bigint }) {
  // Start at LiteSVM's own clock slot (its programs are deployed as of it); block height trails
  // the slot as on a real cluster where some leaders skip their slot.
  let slot = svm.getClock().slot;
  let blockHeight = slot - 20_000_000n;
  const slots: SlotInfo[] = [];
  const blockhashes = new Map<string, SlotInfo>();
  let timer: NodeJS.Timeout | null = null;

  function issueSlot(remember: boolean) {
    slot += 1n;
    blockHeight += 1n;
    if (!remember) return;
    const info = { slot, blockHeight, blockhash: toBase58(randomBytes(32)), unixTime: Math.floor(Date.now() / 1000) };
    slots.push(info);
    blockhashes.set(info.blockhash, info);
    while (slots.length > SLOT_MEMORY) blockhashes.delete(slots.shift()!.blockhash);
  }

  function syncClock() {
    const clock = svm.getClock();
    svm.setClock(new Clock(slot, clock.epochStartTimestamp, clock.epoch, clock.leaderScheduleEpoch, BigInt(Math.floor(Date.now() / 1000))));
  }

  /** Advances N slots at once; only the last ones get remembered blockhashes (older ones would be expired anyway). */
  function warp(n: number) {
    const count = Math.max(0, Math.floor(n));
    for (let i = 0; i < count; i++) issueSlot(count - i <= SLOT_MEMORY);
    syncClock();
  }

  function resumeSlots() {
    if (timer) return;
    timer = setInterval(() => warp(1), o.slotMs);
    timer.unref();
  }

  function pauseSlots() {
    if (timer) clearInterval(timer);
    timer = null;
  }

  /** The slot a commitment level sees: confirmed lags one slot, finalized `finalizeSlots` more. */
  function slotAt(commitment: Commitment = "finalized"): bigint {
    if (commitment === "processed") return slot;
    if (commitment === "confirmed") return slot - 1n;
    return slot - 1n - o.finalizeSlots;
  }

  function slotInfo(commitment: Commitment = "finalized"): SlotInfo {
    const want = slotAt(commitment);
    for (let i = slots.length - 1; i >= 0; i--) if (slots[i]!.slot <= want) return slots[i]!;
    return slots[0]!;
  }

  function latestBlockhash(commitment: Commitment = "finalized") {
    const info = slotInfo(commitment);
    return { slot: info.slot, blockhash: info.blockhash, lastValidBlockHeight: info.blockHeight + MAX_PROCESSING_AGE };
  }

  /** Whether a transaction with this blockhash could still execute in the bank at `commitment`. */
  function isBlockhashValid(blockhash: string, commitment: Commitment = "processed"): boolean {
    const info = blockhashes.get(blockhash);
    if (!info || info.slot > slotAt(commitment)) return false;
    return slotInfo(commitment).blockHeight <= info.blockHeight + MAX_PROCESSING_AGE;
  }

  return {
    get slot() {
      return slot;
    },
    get blockHeight() {
      return blockHeight;
    },
    slotAt,
    blockHeightAt: (commitment: Commitment = "finalized") => slotInfo(commitment).blockHeight,
    latestBlockhash,
    isBlockhashValid,
    warp,
    pauseSlots,
    resumeSlots,
  };
}
