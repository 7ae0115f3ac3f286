// The shape a Solana `exact` transaction must have, in the official order: compute-unit limit,
// compute-unit price (under the cluster's ceiling), one TransferChecked of the exact amount of
// the asked mint to payTo's associated token account, then only Memo or Lighthouse. And, ours:
// the fee payer may appear in no instruction at all, so co-signing can never make it pay or
// sign for anything but the fee.
import {
  COMPUTE_BUDGET_PROGRAM_ADDRESS,
  parseSetComputeUnitLimitInstruction,
  parseSetComputeUnitPriceInstruction,
} from "@solana-program/compute-budget";
import { findAssociatedTokenPda, parseTransferCheckedInstruction } from "@solana-program/token";
import { address as toAddress, decompileTransactionMessage, type Instruction } from "@solana/kit";
import type { EnabledSvmNetwork } from "../../../config/solana-networks.js";
import type { CompiledMessage } from "../../../svm/wire-transaction.js";
import { SvmReason } from "./reasons.js";

export const TOKEN_PROGRAM = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA";
export const TOKEN_2022_PROGRAM = "TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb";
const MEMO_PROGRAM = "MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr";
const LIGHTHOUSE_PROGRAM = "L2TExMFKdjpN9kozasaurPirfHy9P8sbXoAN1qA3S95";
const TRANSFER_CHECKED = 12;

export interface LayoutAsk {
  network: EnabledSvmNetwork;
  asset: string;
  payTo: string;
  amount: bigint;
  memo?: string;
  feePayers: readonly string[];
}

export interface Layout {
  computeUnits: number;
  microLamports: bigint;
  tokenProgram: string;
  destination: string;
}

type Refused = { reason: string; message?: string };
type Verdict = Refused | { layout: Layout };

const refuse = (reason: string, message?: string): Refused => ({ reason, message });

export function decompiled(message: CompiledMessage): readonly Instruction[] | undefined {
  try {
    return decompileTransactionMessage(message).instructions;
  } catch {
    return undefined;
  }
}

function computeBudget(instructions: readonly Instruction[], network: EnabledSvmNetwork): Refused | { units: number; price: bigint } {
  const [limitIx, priceIx] = instructions;
  if (limitIx?.programAddress !== COMPUTE_BUDGET_PROGRAM_ADDRESS || limitIx.data?.[0] !== 2)
    return refuse(SvmReason.computeLimitInstruction);
  let units: number;
  try {
    units = parseSetComputeUnitLimitInstruction(limitIx as Parameters<typeof parseSetComputeUnitLimitInstruction>[0]).data.units;
  } catch {
    return refuse(SvmReason.computeLimitInstruction);
  }
  if (units > network.maxComputeUnits)
    return refuse(SvmReason.computeLimitTooHigh, `asks ${units} compute units; at most ${network.maxComputeUnits}`);
  if (priceIx?.programAddress !== COMPUTE_BUDGET_PROGRAM_ADDRESS || priceIx.data?.[0] !== 3)
    return refuse(SvmReason.computePriceInstruction);
  let price: bigint;
  try {
    price = parseSetComputeUnitPriceInstruction(priceIx as Parameters<typeof parseSetComputeUnitPriceInstruction>[0]).data.microLamports;
  } catch {
    return refuse(SvmReason.computePriceInstruction);
  }
  if (price > network.maxComputeUnitPrice)
    return refuse(SvmReason.computePriceTooHigh, `asks ${price} micro-lamports per compute unit; at most ${network.maxComputeUnitPrice}`);
  return { units, price };
}

export async function checkLayout(instructions: readonly Instruction[], ask: LayoutAsk): Promise<Verdict> {
  if (instructions.length < 3 || instructions.length > 7) return refuse(SvmReason.instructionsLength);
  const budget = computeBudget(instructions, ask.network);
  if ("reason" in budget) return budget;

  const transferIx = instructions[2]!;
  const program = transferIx.programAddress as string;
  if (
    (program !== TOKEN_PROGRAM && program !== TOKEN_2022_PROGRAM) ||
    transferIx.data?.[0] !== TRANSFER_CHECKED ||
    transferIx.data.length < 10
  )
    return refuse(SvmReason.noTransferInstruction);
  let transfer: ReturnType<typeof parseTransferCheckedInstruction>;
  try {
    transfer = parseTransferCheckedInstruction(transferIx as Parameters<typeof parseTransferCheckedInstruction>[0]);
  } catch {
    return refuse(SvmReason.noTransferInstruction);
  }
  if (ask.feePayers.includes(transfer.accounts.authority.address)) return refuse(SvmReason.feePayerTransferringFunds);
  if (transfer.accounts.mint.address !== ask.asset) return refuse(SvmReason.mintMismatch);
  const [destination] = await findAssociatedTokenPda({
    mint: toAddress(ask.asset),
    owner: toAddress(ask.payTo),
    tokenProgram: toAddress(program),
  });
  if (transfer.accounts.destination.address !== destination) return refuse(SvmReason.recipientMismatch);
  if (transfer.data.amount !== ask.amount) return refuse(SvmReason.amountMismatch);

  const optional = instructions.slice(3);
  for (const [i, ix] of optional.entries()) {
    if (ix.programAddress !== MEMO_PROGRAM && ix.programAddress !== LIGHTHOUSE_PROGRAM)
      return refuse(SvmReason.unknownOptional[i] ?? SvmReason.unknownOptional[3]);
  }
  if (ask.memo) {
    const memos = optional.filter((ix) => ix.programAddress === MEMO_PROGRAM);
    if (memos.length !== 1) return refuse(SvmReason.memoCount);
    if (new TextDecoder().decode(Uint8Array.from(memos[0]!.data ?? [])) !== ask.memo) return refuse(SvmReason.memoMismatch);
  }
  const feePayerUsed = instructions.some((ix) => ix.accounts?.some((a) => ask.feePayers.includes(a.address)));
  if (feePayerUsed) return refuse(SvmReason.feePayerTransferringFunds, "the fee payer appears in an instruction's accounts");
  return { layout: { computeUnits: budget.units, microLamports: budget.price, tokenProgram: program, destination } };
}
