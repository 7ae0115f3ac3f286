// Landed transactions as the SIMULATED Solana RPC (LiteSVM behind it, not a validator) writes
// them for getTransaction and getSignaturesForAddress: the transaction (json, jsonParsed or raw
// bytes), its meta, and the memo column. jsonParsed parses the instructions payments use
// (system and token transfers, memos) the way a node does and leaves the rest raw.
import type { Address } from "@solana/kit";
import { toBase58 } from "../../svm/wire-transaction.js";
import { toBase64 } from "./account-json.js";
import type { CompiledMessage, ExecutionReport, InnerInstruction, LandedTransaction } from "./cluster-types.js";
import { isTokenProgram, tokenProgramName, uiTokenAmount } from "./token-accounts.js";

export const SYSTEM_PROGRAM = "11111111111111111111111111111111";
const MEMO_PROGRAMS = new Set(["MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr", "Memo1UhkJRfHyvLMcVucJwxXeuD728EqVDDwQDxFMNo"]);

export function returnDataJson(r: ExecutionReport) {
  return r.returnData ? { programId: r.returnData.programId, data: [toBase64(r.returnData.data), "base64"] } : null;
}

/** jsonParsed form of one instruction: parsed for the programs a node parses that payments use, raw otherwise. */
function parsedInstruction(programId: Address, accounts: Address[], data: Uint8Array, stackHeight: number | null): unknown {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (programId === SYSTEM_PROGRAM && data.length === 12 && view.getUint32(0, true) === 2 && accounts.length >= 2) {
    return {
      program: "system",
      programId,
      parsed: { type: "transfer", info: { source: accounts[0], destination: accounts[1], lamports: view.getBigUint64(4, true) } },
      stackHeight,
    };
  }
  if (MEMO_PROGRAMS.has(programId)) {
    const text = new TextDecoder("utf-8", { fatal: false }).decode(data);
    return { program: "spl-memo", programId, parsed: text, stackHeight };
  }
  if (isTokenProgram(programId)) {
    const program = tokenProgramName(programId);
    // Signer accounts beyond the fixed ones mean the authority is a multisig.
    const authority = (fixed: number): Record<string, unknown> => {
      const rest = accounts.slice(fixed);
      return rest.length > 0 ? { multisigAuthority: accounts[fixed - 1], signers: rest } : { authority: accounts[fixed - 1] };
    };
    if (data[0] === 3 && data.length >= 9 && accounts.length >= 3) {
      const info = { source: accounts[0], destination: accounts[1], amount: view.getBigUint64(1, true).toString(), ...authority(3) };
      return { program, programId, parsed: { type: "transfer", info }, stackHeight };
    }
    if (data[0] === 12 && data.length >= 10 && accounts.length >= 4) {
      const info = {
        source: accounts[0],
        mint: accounts[1],
        destination: accounts[2],
        tokenAmount: uiTokenAmount(view.getBigUint64(1, true), data[9]!),
        ...authority(4),
      };
      return { program, programId, parsed: { type: "transferChecked", info }, stackHeight };
    }
  }
  return { programId, accounts, data: toBase58(data), stackHeight };
}

export function innerInstructionsJson(groups: ExecutionReport["innerInstructions"], keys: Address[] | null) {
  return groups.map((g) => ({
    index: g.index,
    instructions: g.instructions.map((ix: InnerInstruction) =>
      keys
        ? parsedInstruction(
            keys[ix.programIdIndex]!,
            ix.accounts.map((i) => keys[i]!),
            ix.data,
            ix.stackHeight,
          )
        : { programIdIndex: ix.programIdIndex, accounts: ix.accounts, data: toBase58(ix.data), stackHeight: ix.stackHeight },
    ),
  }));
}

function lookupsJson(message: CompiledMessage) {
  if (message.version !== 0) return undefined;
  return (message.addressTableLookups ?? []).map((l) => ({
    accountKey: l.lookupTableAddress,
    writableIndexes: l.writableIndexes,
    readonlyIndexes: l.readonlyIndexes,
  }));
}

function isWritable(message: CompiledMessage, index: number, loadedWritable: number): boolean {
  const { numSignerAccounts, numReadonlySignerAccounts, numReadonlyNonSignerAccounts } = message.header;
  const statics = message.staticAccounts.length;
  if (index < numSignerAccounts) return index < numSignerAccounts - numReadonlySignerAccounts;
  if (index < statics) return index < statics - numReadonlyNonSignerAccounts;
  return index < statics + loadedWritable;
}

export function transactionJson(t: LandedTransaction, encoding: string) {
  const { message, tx, wire } = t.parsed;
  if (encoding === "base64") return [toBase64(wire), "base64"];
  if (encoding === "base58") return [toBase58(wire), "base58"];
  const signatures = Object.values(tx.signatures).map((s) => (s ? toBase58(s) : toBase58(new Uint8Array(64))));
  if (encoding === "jsonParsed") {
    const accountKeys = t.accountKeys.map((pubkey, i) => ({
      pubkey,
      signer: i < message.header.numSignerAccounts,
      source: i < message.staticAccounts.length ? "transaction" : "lookupTable",
      writable: isWritable(message, i, t.loadedAddresses.writable.length),
    }));
    const instructions = message.instructions.map((ix) =>
      parsedInstruction(
        t.accountKeys[ix.programAddressIndex]!,
        (ix.accountIndices ?? []).map((i) => t.accountKeys[i]!),
        Uint8Array.from(ix.data ?? []),
        null,
      ),
    );
    return {
      signatures,
      message: { accountKeys, instructions, recentBlockhash: message.lifetimeToken, addressTableLookups: lookupsJson(message) },
    };
  }
  return {
    signatures,
    message: {
      header: {
        numRequiredSignatures: message.header.numSignerAccounts,
        numReadonlySignedAccounts: message.header.numReadonlySignerAccounts,
        numReadonlyUnsignedAccounts: message.header.numReadonlyNonSignerAccounts,
      },
      accountKeys: message.staticAccounts,
      recentBlockhash: message.lifetimeToken,
      instructions: message.instructions.map((ix) => ({
        programIdIndex: ix.programAddressIndex,
        accounts: ix.accountIndices ?? [],
        data: toBase58(Uint8Array.from(ix.data ?? [])),
        stackHeight: null,
      })),
      addressTableLookups: lookupsJson(message),
    },
  };
}

export function metaJson(t: LandedTransaction, encoding: string) {
  const parsed = encoding === "jsonParsed";
  return {
    err: t.err,
    status: t.err === null ? { Ok: null } : { Err: t.err },
    fee: t.fee,
    preBalances: t.preBalances,
    postBalances: t.postBalances,
    innerInstructions: innerInstructionsJson(t.innerInstructions, parsed ? t.accountKeys : null),
    logMessages: t.logs,
    preTokenBalances: t.preTokenBalances,
    postTokenBalances: t.postTokenBalances,
    rewards: [],
    loadedAddresses: parsed ? undefined : t.loadedAddresses,
    returnData: t.returnData ? returnDataJson(t) : undefined,
    computeUnitsConsumed: t.unitsConsumed,
  };
}

/** A node's memo column: each memo instruction as "[length] text", joined by "; ". */
export function memoOf(t: LandedTransaction): string | null {
  const { message } = t.parsed;
  const memos = message.instructions
    .filter((ix) => MEMO_PROGRAMS.has(t.accountKeys[ix.programAddressIndex] ?? ""))
    .map((ix) => {
      const data = Uint8Array.from(ix.data ?? []);
      return `[${data.length}] ${new TextDecoder().decode(data)}`;
    });
  return memos.length > 0 ? memos.join("; ") : null;
}
