// JSON-RPC errors of the SIMULATED Solana RPC (LiteSVM behind it, not a validator), with the
// codes and messages a node answers: invalid params, and the one-line text of a transaction error
// that a failed preflight (-32002) carries.
import type { RpcTransactionError } from "./cluster-types.js";

export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
  }
}
/** Thrown by a method to make the node hang up without answering. */
export class DropConnection extends Error {}

export const invalidParams = (detail: string) => new RpcError(-32602, `Invalid params: ${detail}`);
export const invalidParam = (detail: string) => new RpcError(-32602, `Invalid param: ${detail}`);

const INSTRUCTION_ERROR_TEXT: Record<string, string> = {
  InsufficientFunds: "insufficient funds for instruction",
  MissingRequiredSignature: "missing required signature for instruction",
  InvalidAccountData: "invalid account data for instruction",
  InvalidInstructionData: "invalid instruction data",
};
const TRANSACTION_ERROR_TEXT: Record<string, string> = {
  BlockhashNotFound: "Blockhash not found",
  AlreadyProcessed: "This transaction has already been processed",
  AccountNotFound: "Attempt to debit an account but found no record of a prior credit.",
  InsufficientFundsForFee: "Insufficient funds for fee",
  SignatureFailure: "Transaction did not pass signature verification",
};

/** A node's one-line description of a transaction error (the -32002 message). */
export function describeError(err: RpcTransactionError): string {
  if (typeof err === "string") return TRANSACTION_ERROR_TEXT[err] ?? err;
  const ix = err.InstructionError as [number, RpcTransactionError] | undefined;
  if (ix) {
    const [index, e] = ix;
    const what =
      typeof e === "string"
        ? (INSTRUCTION_ERROR_TEXT[e] ?? e)
        : typeof e.Custom === "number"
          ? `custom program error: 0x${e.Custom.toString(16)}`
          : JSON.stringify(e);
    return `Error processing Instruction ${index}: ${what}`;
  }
  return JSON.stringify(err);
}
