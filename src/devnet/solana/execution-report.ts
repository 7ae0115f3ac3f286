// LiteSVM's results as Solana RPC reports them, for the SIMULATED Solana cluster (LiteSVM, not a
// validator): its error classes and enum numbers become the JSON errors a node returns, and its
// transaction metadata becomes logs, units, inner instructions and return data.
import { getAddressDecoder } from "@solana/kit";
import type { FailedTransactionMetadata, TransactionMetadata } from "litesvm";
import type { ExecutionReport, RpcTransactionError } from "./cluster-types.js";

const addressDecoder = getAddressDecoder();

// LiteSVM reports errors as its own classes and enum numbers; the names below follow the order of
// its TransactionErrorFieldless and InstructionErrorFieldless enums, which are Solana's.
const TRANSACTION_ERRORS = [
  "AccountInUse",
  "AccountLoadedTwice",
  "AccountNotFound",
  "ProgramAccountNotFound",
  "InsufficientFundsForFee",
  "InvalidAccountForFee",
  "AlreadyProcessed",
  "BlockhashNotFound",
  "CallChainTooDeep",
  "MissingSignatureForFee",
  "InvalidAccountIndex",
  "SignatureFailure",
  "InvalidProgramForExecution",
  "SanitizeFailure",
  "ClusterMaintenance",
  "AccountBorrowOutstanding",
  "WouldExceedMaxBlockCostLimit",
  "UnsupportedVersion",
  "InvalidWritableAccount",
  "WouldExceedMaxAccountCostLimit",
  "WouldExceedAccountDataBlockLimit",
  "TooManyAccountLocks",
  "AddressLookupTableNotFound",
  "InvalidAddressLookupTableOwner",
  "InvalidAddressLookupTableData",
  "InvalidAddressLookupTableIndex",
  "InvalidRentPayingAccount",
  "WouldExceedMaxVoteCostLimit",
  "WouldExceedAccountDataTotalLimit",
  "MaxLoadedAccountsDataSizeExceeded",
  "ResanitizationNeeded",
  "InvalidLoadedAccountsDataSizeLimit",
  "UnbalancedTransaction",
  "ProgramCacheHitMaxLimit",
  "CommitCancelled",
];
const INSTRUCTION_ERRORS = [
  "GenericError",
  "InvalidArgument",
  "InvalidInstructionData",
  "InvalidAccountData",
  "AccountDataTooSmall",
  "InsufficientFunds",
  "IncorrectProgramId",
  "MissingRequiredSignature",
  "AccountAlreadyInitialized",
  "UninitializedAccount",
  "UnbalancedInstruction",
  "ModifiedProgramId",
  "ExternalAccountLamportSpend",
  "ExternalAccountDataModified",
  "ReadonlyLamportChange",
  "ReadonlyDataModified",
  "DuplicateAccountIndex",
  "ExecutableModified",
  "RentEpochModified",
  "NotEnoughAccountKeys",
  "AccountDataSizeChanged",
  "AccountNotExecutable",
  "AccountBorrowFailed",
  "AccountBorrowOutstanding",
  "DuplicateAccountOutOfSync",
  "InvalidError",
  "ExecutableDataModified",
  "ExecutableLamportChange",
  "ExecutableAccountNotRentExempt",
  "UnsupportedProgramId",
  "CallDepth",
  "MissingAccount",
  "ReentrancyNotAllowed",
  "MaxSeedLengthExceeded",
  "InvalidSeeds",
  "InvalidRealloc",
  "ComputationalBudgetExceeded",
  "PrivilegeEscalation",
  "ProgramEnvironmentSetupFailure",
  "ProgramFailedToComplete",
  "ProgramFailedToCompile",
  "Immutable",
  "IncorrectAuthority",
  "AccountNotRentExempt",
  "InvalidAccountOwner",
  "ArithmeticOverflow",
  "UnsupportedSysvar",
  "IllegalOwner",
  "MaxAccountsDataAllocationsExceeded",
  "MaxAccountsExceeded",
  "MaxInstructionTraceLengthExceeded",
  "BuiltinProgramsMustConsumeComputeUnits",
  "BorshIoError",
];

function instructionErrorShape(err: unknown): RpcTransactionError {
  if (typeof err === "number") return INSTRUCTION_ERRORS[err] ?? "GenericError";
  const e = err as { code?: number; msg?: string };
  if (typeof e.code === "number") return { Custom: e.code };
  if (typeof e.msg === "string") return { BorshIoError: e.msg };
  return "GenericError";
}

/** LiteSVM's failure → the error as Solana RPC spells it. */
export function rpcErrorOf(failed: FailedTransactionMetadata): RpcTransactionError {
  const err: unknown = failed.err();
  if (typeof err === "number") return TRANSACTION_ERRORS[err] ?? "SanitizeFailure";
  const e = err as { index?: number; accountIndex?: number; err?: () => unknown; constructor: { name: string } };
  if (typeof e.index === "number" && typeof e.err === "function") return { InstructionError: [e.index, instructionErrorShape(e.err())] };
  if (typeof e.index === "number") return { DuplicateInstruction: e.index };
  if (typeof e.accountIndex === "number") {
    const kind = e.constructor.name.includes("Restricted") ? "ProgramExecutionTemporarilyRestricted" : "InsufficientFundsForRent";
    return { [kind]: { account_index: e.accountIndex } };
  }
  return "SanitizeFailure";
}

export function reportOf(meta: TransactionMetadata, err: RpcTransactionError | null): ExecutionReport {
  const innerInstructions = meta
    .innerInstructions()
    .map((group, index) => ({
      index,
      instructions: group.map((inner) => {
        const ix = inner.instruction();
        return { programIdIndex: ix.programIdIndex(), accounts: [...ix.accounts()], data: ix.data(), stackHeight: inner.stackHeight() };
      }),
    }))
    .filter((g) => g.instructions.length > 0);
  const ret = meta.returnData();
  const retData = ret.data();
  return {
    err,
    logs: meta.logs(),
    unitsConsumed: meta.computeUnitsConsumed(),
    innerInstructions,
    returnData: retData.length > 0 ? { programId: addressDecoder.decode(ret.programId()), data: retData } : null,
  };
}

export function isFailure(r: unknown): r is FailedTransactionMetadata {
  return typeof (r as FailedTransactionMetadata).err === "function";
}
