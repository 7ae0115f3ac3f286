// A Solana wire transaction as the facilitator handles it: decoded once from the payload's
// base64, its compiled message read, the fee payer's signature added, encoded back. Decoding
// goes through @solana/kit's codecs; nothing here talks to a cluster.
import { createHash } from "node:crypto";
import {
  getBase58Decoder,
  getBase58Encoder,
  getBase64Decoder,
  getBase64Encoder,
  getCompiledTransactionMessageDecoder,
  getTransactionDecoder,
  getTransactionEncoder,
  type Transaction,
} from "@solana/kit";

/** The largest wire transaction a cluster takes (a packet); the payload schema allows a little base64 over it. */
export const MAX_WIRE_TRANSACTION_BYTES = 1232;

type AnyCompiledMessage = ReturnType<ReturnType<typeof getCompiledTransactionMessageDecoder>["decode"]>;
/** Legacy and v0 messages: the formats clusters and x402 clients use today. */
export type CompiledMessage = Extract<AnyCompiledMessage, { version: "legacy" } | { version: 0 }>;

export interface WireTransaction {
  transaction: Transaction;
  message: CompiledMessage;
}

const base64 = { toBytes: getBase64Encoder(), fromBytes: getBase64Decoder() };
const base58 = { toBytes: getBase58Encoder(), fromBytes: getBase58Decoder() };
const txCodec = { decode: getTransactionDecoder(), encode: getTransactionEncoder() };
const messageDecoder = getCompiledTransactionMessageDecoder();

/** Undefined when the bytes are not one whole transaction with a readable message. */
export function decodeWireTransaction(b64: string): WireTransaction | undefined {
  try {
    const bytes = base64.toBytes.encode(b64);
    if (bytes.length > MAX_WIRE_TRANSACTION_BYTES) return undefined;
    const [transaction, read] = txCodec.decode.read(bytes, 0);
    if (read !== bytes.length) return undefined;
    const message = messageDecoder.decode(transaction.messageBytes);
    if (message.version !== "legacy" && message.version !== 0) return undefined;
    return { transaction, message: message as CompiledMessage };
  } catch {
    return undefined;
  }
}

/** The ledger key of a Solana payment: sha256 of its message, base64 (what the official facilitator dedupes on). */
export const messageHash = (tx: Transaction): string => createHash("sha256").update(Uint8Array.from(tx.messageBytes)).digest("base64");

export const encodeWireTransaction = (tx: Transaction): string => base64.fromBytes.decode(txCodec.encode.encode(tx));

export const toBase58 = (bytes: Uint8Array): string => base58.fromBytes.decode(bytes);
export const fromBase58 = (text: string): Uint8Array => Uint8Array.from(base58.toBytes.encode(text));

/** The transaction with `signer`'s signature set; its id on chain is the fee payer's (first) signature. */
export function withSignature(tx: Transaction, signer: string, signature: Uint8Array): Transaction {
  return { ...tx, signatures: { ...tx.signatures, [signer]: signature } } as Transaction;
}
