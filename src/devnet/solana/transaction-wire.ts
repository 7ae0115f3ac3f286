// What the SIMULATED Solana cluster (LiteSVM behind JSON-RPC, not a validator) reads off a wire
// transaction before running it, as a node does: its structure within one packet, whether its
// signatures verify, and the fee a validator charges for it.
import { getCompiledTransactionMessageDecoder, getTransactionDecoder, type Address, type Signature, type Transaction } from "@solana/kit";
import { LAMPORTS_PER_SIGNATURE } from "../../svm/fee.js";
import { ed25519Valid } from "../../svm/signatures.js";
import { MAX_WIRE_TRANSACTION_BYTES, toBase58, type CompiledMessage } from "../../svm/wire-transaction.js";
import type { ParsedTransaction } from "./cluster-types.js";

const COMPUTE_BUDGET_PROGRAM = "ComputeBudget111111111111111111111111111111";
// The compute-unit limit of a transaction that sets none, which its priority fee is charged on:
// 200k per SBF-program instruction, 3k per builtin one (what LiteSVM charges, as current Agave).
const BUILTIN_INSTRUCTION_UNITS = 3_000n;
const PROGRAM_INSTRUCTION_UNITS = 200_000n;
const MAX_COMPUTE_UNITS = 1_400_000n;
const BUILTIN_PROGRAMS = new Set([
  "11111111111111111111111111111111",
  COMPUTE_BUDGET_PROGRAM,
  "Vote111111111111111111111111111111111111111",
  "BPFLoader1111111111111111111111111111111111",
  "BPFLoader2111111111111111111111111111111111",
  "BPFLoaderUpgradeab1e11111111111111111111111",
  "LoaderV411111111111111111111111111111111111",
]);
const ZERO_SIGNATURE = toBase58(new Uint8Array(64)) as Signature;

export class TransactionDecodeError extends Error {}

/** Decodes a wire transaction the way a node's RPC does before anything else (size limit, then structure). */
export function parseWireTransaction(wire: Uint8Array): ParsedTransaction {
  // PACKET_DATA_SIZE: a node refuses anything that does not fit one packet.
  if (wire.length > MAX_WIRE_TRANSACTION_BYTES)
    throw new TransactionDecodeError(`transaction too large: ${wire.length} bytes (max: ${MAX_WIRE_TRANSACTION_BYTES})`);
  let tx: Transaction;
  let decoded: ReturnType<ReturnType<typeof getCompiledTransactionMessageDecoder>["decode"]>;
  try {
    tx = getTransactionDecoder().decode(wire);
    decoded = getCompiledTransactionMessageDecoder().decode(tx.messageBytes);
  } catch (e) {
    throw new TransactionDecodeError(`failed to deserialize transaction: ${(e as Error).message}`);
  }
  if (decoded.version !== "legacy" && decoded.version !== 0)
    throw new TransactionDecodeError(`failed to deserialize transaction: unsupported version ${decoded.version}`);
  const message: CompiledMessage = decoded;
  const signers = Object.keys(tx.signatures) as Address[];
  const feePayer = message.staticAccounts[0];
  if (!feePayer || signers.length === 0) throw new TransactionDecodeError("failed to deserialize transaction: no fee payer");
  const first = tx.signatures[feePayer];
  return { wire, tx, message, feePayer, signature: first ? (toBase58(first) as Signature) : ZERO_SIGNATURE };
}

/** Whether every required signature is present and valid over the message (a node's sigverify). */
export async function signaturesVerify(parsed: ParsedTransaction): Promise<boolean> {
  const message = Uint8Array.from(parsed.tx.messageBytes);
  for (const [signer, signature] of Object.entries(parsed.tx.signatures)) {
    if (!signature || !ed25519Valid(signer, Uint8Array.from(signature), message)) return false;
  }
  return true;
}

/** The fee a validator charges: 5,000 lamports per signature plus ceil(limit × price / 1e6). */
export function feeOf(message: CompiledMessage): bigint {
  let limit: bigint | null = null;
  let price = 0n;
  let defaultLimit = 0n;
  for (const ix of message.instructions) {
    const program = message.staticAccounts[ix.programAddressIndex];
    const data = ix.data ?? new Uint8Array();
    if (program === COMPUTE_BUDGET_PROGRAM) {
      const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
      if (data[0] === 2 && data.length >= 5) limit = BigInt(view.getUint32(1, true));
      if (data[0] === 3 && data.length >= 9) price = view.getBigUint64(1, true);
    }
    defaultLimit += program && BUILTIN_PROGRAMS.has(program) ? BUILTIN_INSTRUCTION_UNITS : PROGRAM_INSTRUCTION_UNITS;
  }
  const units = (limit ?? defaultLimit) < MAX_COMPUTE_UNITS ? (limit ?? defaultLimit) : MAX_COMPUTE_UNITS;
  const priority = (units * price + 999_999n) / 1_000_000n;
  return BigInt(message.header.numSignerAccounts) * LAMPORTS_PER_SIGNATURE + priority;
}
