// The shapes the SIMULATED Solana cluster (LiteSVM behind JSON-RPC, not a validator) hands
// between its parts: a decoded transaction, what running it reported, what landing it recorded,
// and the outcomes of simulate and send as a node distinguishes them.
import type { Address, EncodedAccount, Signature, Transaction } from "@solana/kit";
import type { CompiledMessage } from "../../svm/wire-transaction.js";

export type { CompiledMessage };
export type TokenProgramName = "token" | "token-2022";
export type Commitment = "processed" | "confirmed" | "finalized";
/** A transaction error in the JSON shape Solana RPC uses ("BlockhashNotFound", {InstructionError: [2, {Custom: 1}]}). */
export type RpcTransactionError = string | { [key: string]: unknown };

export interface UiTokenAmount {
  amount: string;
  decimals: number;
  uiAmount: number | null;
  uiAmountString: string;
}

export interface TokenBalance {
  accountIndex: number;
  mint: Address;
  owner: Address;
  programId: Address;
  uiTokenAmount: UiTokenAmount;
}

export interface InnerInstruction {
  programIdIndex: number;
  accounts: number[];
  data: Uint8Array;
  stackHeight: number;
}

export interface ExecutionReport {
  err: RpcTransactionError | null;
  logs: string[];
  unitsConsumed: bigint;
  /** One entry per top-level instruction that made inner calls. */
  innerInstructions: { index: number; instructions: InnerInstruction[] }[];
  returnData: { programId: Address; data: Uint8Array } | null;
  /** Simulation only: the accounts the transaction touched, as they would be after it. */
  postAccounts?: EncodedAccount[];
}

/** A wire transaction decoded once, as every method that takes one needs it. */
export interface ParsedTransaction {
  wire: Uint8Array;
  tx: Transaction;
  message: CompiledMessage;
  /** The first signature (the transaction id), all-zero base58 when the fee payer has not signed. */
  signature: Signature;
  feePayer: Address;
}

export interface LandedTransaction extends ExecutionReport {
  parsed: ParsedTransaction;
  slot: bigint;
  blockTime: number;
  fee: bigint;
  /** Static keys, then the writable and then the readonly keys loaded from lookup tables. */
  accountKeys: Address[];
  loadedAddresses: { writable: Address[]; readonly: Address[] };
  preBalances: bigint[];
  postBalances: bigint[];
  preTokenBalances: TokenBalance[];
  postTokenBalances: TokenBalance[];
}

export interface SignatureStatus {
  slot: bigint;
  confirmations: bigint | null;
  err: RpcTransactionError | null;
  confirmationStatus: Commitment;
}

export type SimulationOutcome =
  | { kind: "signature-failed" }
  | ({ kind: "simulated"; replacementBlockhash: { blockhash: string; lastValidBlockHeight: bigint } | null } & ExecutionReport);

export type SendOutcome =
  | { kind: "signature-failed" }
  | { kind: "preflight-failed"; simulation: ExecutionReport }
  /** Taken by the node; `landed` false is a transaction the cluster dropped (it never appears). */
  | { kind: "accepted"; signature: Signature; landed: boolean };
