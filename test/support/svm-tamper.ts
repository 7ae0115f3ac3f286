// Tampered Solana `exact` payments for the differential test: each builder takes a v2 body the
// official client signed, changes one thing in its transaction, and re-signs with the keys it is
// given, so every signature present is valid over the tampered message (unless the tamper is
// about signatures). The fee payer slot stays unsigned, as a client sends it.
import {
  AccountRole,
  address,
  appendTransactionMessageInstructions,
  createTransactionMessage,
  decompileTransactionMessage,
  getBase64EncodedWireTransaction,
  getBase64Decoder,
  getBase64Encoder,
  getCompiledTransactionMessageDecoder,
  getTransactionDecoder,
  isSignerRole,
  partiallySignTransactionMessageWithSigners,
  pipe,
  setTransactionMessageFeePayer,
  setTransactionMessageLifetimeUsingBlockhash,
  type AccountMeta,
  type Address,
  type Instruction,
  type TransactionSigner,
} from "@solana/kit";
import { getSetComputeUnitLimitInstruction, getSetComputeUnitPriceInstruction } from "@solana-program/compute-budget";
import {
  findAssociatedTokenPda,
  getTransferCheckedInstruction,
  parseTransferCheckedInstruction,
  TOKEN_PROGRAM_ADDRESS,
} from "@solana-program/token";
import type { SvmRequirements } from "./solana-facilitator.js";

export interface SvmBody {
  x402Version: 2;
  paymentPayload: Record<string, unknown> & { payload?: unknown };
  paymentRequirements: SvmRequirements;
}

const MEMO_PROGRAM = address("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr");
const SYSTEM_PROGRAM = address("11111111111111111111111111111111");

const wireOf = (body: SvmBody): string => (body.paymentPayload.payload as { transaction: string }).transaction;

/** The body with another transaction in its payload; requirements untouched. */
export const withTransaction = (body: SvmBody, transaction: string): SvmBody => ({
  ...body,
  paymentPayload: { ...body.paymentPayload, payload: { transaction } },
});

interface Opened {
  feePayer: Address;
  blockhash: { blockhash: string; lastValidBlockHeight: bigint };
  instructions: Instruction[];
}

/** The transaction's message back as kit instructions (official layout: limit, price, transfer, memo). */
function open(body: SvmBody): Opened {
  const tx = getTransactionDecoder().decode(getBase64Encoder().encode(wireOf(body)));
  const compiled = getCompiledTransactionMessageDecoder().decode(tx.messageBytes);
  const message = decompileTransactionMessage(compiled as Parameters<typeof decompileTransactionMessage>[0]);
  const lifetime = message.lifetimeConstraint as { blockhash: string; lastValidBlockHeight: bigint };
  return { feePayer: message.feePayer.address, blockhash: lifetime, instructions: [...message.instructions] };
}

/** Attaches each signer to every signer-role account meta of its address, so kit signs for it. */
function withSigners(instructions: readonly Instruction[], signers: readonly TransactionSigner[]): Instruction[] {
  const byAddress = new Map(signers.map((s) => [s.address as string, s]));
  return instructions.map((ix) => ({
    ...ix,
    accounts: ix.accounts?.map((meta) => {
      const signer = byAddress.get(meta.address);
      return signer && isSignerRole(meta.role) ? { ...meta, signer } : meta;
    }),
  }));
}

/** Rebuilds the message around `edit`'s instructions (same fee payer, same blockhash) and signs it with `signers`. */
async function rebuild(
  body: SvmBody,
  signers: readonly TransactionSigner[],
  edit: (instructions: Instruction[]) => Instruction[],
): Promise<SvmBody> {
  const opened = open(body);
  const message = pipe(
    createTransactionMessage({ version: 0 }),
    (m) => setTransactionMessageFeePayer(opened.feePayer, m),
    (m) =>
      setTransactionMessageLifetimeUsingBlockhash(opened.blockhash as Parameters<typeof setTransactionMessageLifetimeUsingBlockhash>[0], m),
    (m) => appendTransactionMessageInstructions(withSigners(edit(opened.instructions), signers), m),
  );
  const signed = await partiallySignTransactionMessageWithSigners(message);
  return withTransaction(body, getBase64EncodedWireTransaction(signed));
}

/** The TransferChecked at index 2, parsed, for tampers that rewrite one of its fields. */
function transferOf(instructions: readonly Instruction[]) {
  return parseTransferCheckedInstruction(instructions[2] as Parameters<typeof parseTransferCheckedInstruction>[0]);
}

interface TransferFields {
  source: Address;
  mint: Address;
  destination: Address;
  authority: TransactionSigner;
  amount: bigint;
  decimals: number;
}

/** Replaces the transfer at index 2 with one whose fields are the original's overridden by `change`. */
function replaceTransfer(body: SvmBody, authority: TransactionSigner, change: Partial<TransferFields>, signers = [authority]) {
  return rebuild(body, signers, (ixs) => {
    const t = transferOf(ixs);
    const fields: TransferFields = {
      source: t.accounts.source.address,
      mint: t.accounts.mint.address,
      destination: t.accounts.destination.address,
      authority,
      amount: t.data.amount,
      decimals: t.data.decimals,
      ...change,
    };
    const transfer = getTransferCheckedInstruction(fields);
    return [ixs[0]!, ixs[1]!, transfer, ...ixs.slice(3)];
  });
}

const ataOf = async (mint: Address, owner: Address) =>
  (await findAssociatedTokenPda({ mint, owner, tokenProgram: TOKEN_PROGRAM_ADDRESS }))[0];

/** Case: the buyer's transfer is rebuilt unchanged (proves the rebuild itself keeps a valid payment valid). */
export const resigned = (body: SvmBody, buyer: TransactionSigner) => rebuild(body, [buyer], (ixs) => ixs);

/** Case: a transfer of `mint` (another token the buyer holds), buyer's ATA to payTo's ATA of that mint. */
export async function wrongMint(body: SvmBody, buyer: TransactionSigner, mint: Address, decimals: number) {
  const payTo = address(body.paymentRequirements.payTo);
  return replaceTransfer(body, buyer, { mint, decimals, source: await ataOf(mint, buyer.address), destination: await ataOf(mint, payTo) });
}

/** Case: the right mint and amount, but to `owner`'s associated token account instead of payTo's. */
export async function wrongDestination(body: SvmBody, buyer: TransactionSigner, owner: Address) {
  return replaceTransfer(body, buyer, { destination: await ataOf(address(body.paymentRequirements.asset), owner) });
}

/** Case: the transfer moves `amount` instead of what the requirements ask. */
export const wrongAmount = (body: SvmBody, buyer: TransactionSigner, amount: bigint) => replaceTransfer(body, buyer, { amount });

/** A System Program transfer of `lamports` (instruction 2: u32 index then u64 lamports, little-endian). */
export function systemTransfer(from: TransactionSigner, to: Address, lamports: bigint): Instruction {
  const data = new Uint8Array(12);
  const view = new DataView(data.buffer);
  view.setUint32(0, 2, true);
  view.setBigUint64(4, lamports, true);
  return {
    programAddress: SYSTEM_PROGRAM,
    accounts: [
      { address: from.address, role: AccountRole.WRITABLE_SIGNER },
      { address: to, role: AccountRole.WRITABLE },
    ],
    data,
  };
}

/** Case: `extra` appended after the memo (the fifth instruction). */
export const appended = (body: SvmBody, buyer: TransactionSigner, extra: Instruction) => rebuild(body, [buyer], (ixs) => [...ixs, extra]);

/** Case: the fee payer is the transfer's authority, moving tokens out of its own account `source`; it signs. */
export const feePayerAsAuthority = (body: SvmBody, feePayer: TransactionSigner, source: Address) =>
  replaceTransfer(body, feePayer, { source });

/** Case: the fee payer listed as a read-only account of the memo instruction; the buyer signs as usual. */
export const feePayerInMemo = (body: SvmBody, buyer: TransactionSigner, feePayer: Address) =>
  rebuild(body, [buyer], (ixs) =>
    ixs.map((ix) =>
      ix.programAddress === MEMO_PROGRAM ? { ...ix, accounts: [{ address: feePayer, role: AccountRole.READONLY } as AccountMeta] } : ix,
    ),
  );

/** Case: a third signer required, as a signer account of the memo (the Memo program checks it signed); all sign. */
export const extraMemoSigner = (body: SvmBody, buyer: TransactionSigner, extra: TransactionSigner) =>
  rebuild(body, [buyer, extra], (ixs) =>
    ixs.map((ix) =>
      ix.programAddress === MEMO_PROGRAM ? { ...ix, accounts: [{ address: extra.address, role: AccountRole.READONLY_SIGNER }] } : ix,
    ),
  );

/** Case: the compute-unit price instruction asks `microLamports`. */
export const computePrice = (body: SvmBody, buyer: TransactionSigner, microLamports: bigint) =>
  rebuild(body, [buyer], (ixs) => [ixs[0]!, getSetComputeUnitPriceInstruction({ microLamports }), ...ixs.slice(2)]);

/** Case: the compute-unit limit instruction asks `units`. */
export const computeLimit = (body: SvmBody, buyer: TransactionSigner, units: number) =>
  rebuild(body, [buyer], (ixs) => [getSetComputeUnitLimitInstruction({ units }), ...ixs.slice(1)]);

/** Case: the transfer moved to the front, the compute budget after it. */
export const transferFirst = (body: SvmBody, buyer: TransactionSigner) =>
  rebuild(body, [buyer], (ixs) => [ixs[2]!, ixs[0]!, ixs[1]!, ...ixs.slice(3)]);

/** Case: the memo instruction carries `text`. */
export const memoText = (body: SvmBody, buyer: TransactionSigner, text: string) =>
  rebuild(body, [buyer], (ixs) =>
    ixs.map((ix) => (ix.programAddress === MEMO_PROGRAM ? { ...ix, data: new TextEncoder().encode(text) } : ix)),
  );

/**
 * Case: one byte of the signature at `signerIndex` (1: the buyer, after the fee payer) flipped in
 * the wire bytes, nothing else touched. The wire starts with a compact-u16 signature count (one
 * byte below 128), then 64 bytes per signature in account order.
 */
export function flipSignatureByte(body: SvmBody, signerIndex = 1): SvmBody {
  const bytes = Uint8Array.from(getBase64Encoder().encode(wireOf(body)));
  if (bytes[0]! >= 0x80 || signerIndex >= bytes[0]!) throw new Error("unexpected signature section");
  bytes[1 + 64 * signerIndex + 7]! ^= 0xff;
  return withTransaction(body, getBase64Decoder().decode(bytes));
}

/**
 * Case: base64 that passes the payload schema but is no transaction: 300 bytes of 0xa7. The
 * signature count is a compact-u16 whose third byte may be at most 0x03, so the count alone
 * cannot be read; this fails the same way on every run.
 */
export const undecodable = (body: SvmBody): SvmBody => withTransaction(body, getBase64Decoder().decode(new Uint8Array(300).fill(0xa7)));
