// SIMULATED Solana JSON-RPC endpoint: plain Solana JSON-RPC 2.0 over HTTP in front of the LiteSVM
// cluster of local-cluster.ts, not a validator. Request and response shapes follow the Solana RPC
// spec (and what @solana/kit's createSolanaRpc sends and expects), so the code under test talks to
// it exactly as it would to a real node. `faults` lets tests make the node misbehave the ways real
// ones do.
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import {
  appendTransactionMessageInstruction,
  createTransactionMessage,
  generateKeyPairSigner,
  getAddressDecoder,
  getBase58Decoder,
  getBase58Encoder,
  getBase64EncodedWireTransaction,
  getCompiledTransactionMessageDecoder,
  isAddress,
  isSignature,
  pipe,
  setTransactionMessageFeePayerSigner,
  setTransactionMessageLifetimeUsingBlockhash,
  signTransactionMessageWithSigners,
  AccountRole,
  type Address,
  type Blockhash,
  type KeyPairSigner,
} from "@solana/kit";
import {
  decodeMintData,
  decodeTokenAccountData,
  feeOf,
  parseWireTransaction,
  TOKEN_2022_PROGRAM_ADDRESS,
  TransactionDecodeError,
  uiTokenAmount,
  type Commitment,
  type CompiledMessage,
  type ExecutionReport,
  type InnerInstruction,
  type LandedTransaction,
  type LocalCluster,
  type RpcTransactionError,
} from "./local-cluster.js";

const API_VERSION = "2.3.0";
const MAX_BODY_BYTES = 1 << 20;
const MAX_MULTIPLE_ACCOUNTS = 100;
const MAX_SIGNATURE_STATUSES = 256;
const SYSTEM_PROGRAM = "11111111111111111111111111111111";
const MEMO_PROGRAMS = new Set(["MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr", "Memo1UhkJRfHyvLMcVucJwxXeuD728EqVDDwQDxFMNo"]);
// Accounts a validator never collects rent from report this rent epoch.
const RENT_EXEMPT_EPOCH = 18_446_744_073_709_551_615n;

const b58 = {
  encode: (bytes: Uint8Array) => getBase58Decoder().decode(bytes),
  decode: (s: string) => new Uint8Array(getBase58Encoder().encode(s)),
};
const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");

class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
  }
}
/** Thrown by a method to make the node hang up without answering. */
class DropConnection extends Error {}

const invalidParams = (detail: string) => new RpcError(-32602, `Invalid params: ${detail}`);
const invalidParam = (detail: string) => new RpcError(-32602, `Invalid param: ${detail}`);

// ---- JSON ---------------------------------------------------------------------------------

/** JSON with u64 values (bigint) written as exact JSON numbers, as a node writes them. */
function toJson(v: unknown): string {
  if (v === null || v === undefined) return "null";
  if (typeof v === "bigint") return v.toString();
  if (typeof v === "number") return Number.isFinite(v) ? String(v) : "null";
  if (typeof v === "string" || typeof v === "boolean") return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(toJson).join(",")}]`;
  const parts: string[] = [];
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) if (x !== undefined) parts.push(`${JSON.stringify(k)}:${toJson(x)}`);
  return `{${parts.join(",")}}`;
}

// ---- parameters ---------------------------------------------------------------------------

type Config = Record<string, unknown>;

function configAt(params: unknown[], i: number): Config {
  const c = params[i];
  if (c === undefined || c === null) return {};
  if (typeof c !== "object" || Array.isArray(c)) throw invalidParams("invalid type: expected a config object");
  return c as Config;
}

function addressAt(params: unknown[], i: number): Address {
  const a = params[i];
  if (typeof a !== "string" || !isAddress(a)) throw invalidParam("Invalid");
  return a;
}

function stringAt(params: unknown[], i: number): string {
  const s = params[i];
  if (typeof s !== "string") throw invalidParams(`expected a string at position ${i}`);
  return s;
}

function optionalBool(c: Config, key: string): boolean {
  const v = c[key];
  if (v === undefined || v === null) return false;
  if (typeof v !== "boolean") throw invalidParams(`${key} must be a boolean`);
  return v;
}

function optionalU64(c: Config, key: string): bigint | null {
  const v = c[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) throw invalidParams(`${key} must be a u64`);
  return BigInt(v);
}

function commitmentOf(c: Config): Commitment {
  const v = c.commitment ?? c.preflightCommitment;
  if (v === undefined || v === null) return "finalized";
  if (v === "processed" || v === "confirmed" || v === "finalized") return v;
  throw invalidParams(`unknown variant \`${String(v)}\`, expected one of \`processed\`, \`confirmed\`, \`finalized\``);
}

// ---- encoding -----------------------------------------------------------------------------

interface AccountLike {
  lamports: bigint;
  programAddress: Address;
  executable: boolean;
  data: Uint8Array;
}

type AccountEncoding = "binary" | "base58" | "base64" | "jsonParsed";

function encodingOf(c: Config, fallback: AccountEncoding): AccountEncoding {
  const e = c.encoding ?? fallback;
  if (e === "binary" || e === "base58" || e === "base64" || e === "jsonParsed") return e;
  throw invalidParams(`unsupported encoding: ${String(e)}`);
}

function sliceOf(c: Config): ((d: Uint8Array) => Uint8Array) | null {
  const s = c.dataSlice;
  if (s === undefined || s === null) return null;
  const { offset, length } = s as { offset?: unknown; length?: unknown };
  if (typeof offset !== "number" || typeof length !== "number" || offset < 0 || length < 0)
    throw invalidParams("dataSlice needs offset and length");
  return (d) => d.subarray(offset, offset + length);
}

function tokenProgramName(owner: string) {
  return owner === TOKEN_2022_PROGRAM_ADDRESS ? "spl-token-2022" : "spl-token";
}

/** What jsonParsed shows for a token account or mint (decimals come from the mint, as a node does). */
function parsedTokenData(cluster: LocalCluster, a: AccountLike): unknown | null {
  const token = decodeTokenAccountData(a.programAddress, a.data);
  if (token) {
    const decimals = cluster.readMint(token.mint)?.mint.decimals ?? 0;
    const info: Record<string, unknown> = {
      isNative: token.isNative.__option === "Some",
      mint: token.mint,
      owner: token.owner,
      state: token.state === 2 ? "frozen" : "initialized",
      tokenAmount: uiTokenAmount(token.amount, decimals),
    };
    if (token.delegate.__option === "Some") {
      info.delegate = token.delegate.value;
      info.delegatedAmount = uiTokenAmount(token.delegatedAmount, decimals);
    }
    if (token.closeAuthority.__option === "Some") info.closeAuthority = token.closeAuthority.value;
    if (token.isNative.__option === "Some") info.rentExemptReserve = uiTokenAmount(token.isNative.value, decimals);
    return { program: tokenProgramName(a.programAddress), parsed: { type: "account", info }, space: a.data.length };
  }
  const mint = decodeMintData(a.programAddress, a.data);
  if (mint) {
    const info = {
      mintAuthority: mint.mintAuthority.__option === "Some" ? mint.mintAuthority.value : null,
      supply: mint.supply.toString(),
      decimals: mint.decimals,
      isInitialized: mint.isInitialized,
      freezeAuthority: mint.freezeAuthority.__option === "Some" ? mint.freezeAuthority.value : null,
    };
    return { program: tokenProgramName(a.programAddress), parsed: { type: "mint", info }, space: a.data.length };
  }
  return null;
}

function encodeAccount(
  cluster: LocalCluster,
  a: AccountLike | null,
  encoding: AccountEncoding,
  slice: ((d: Uint8Array) => Uint8Array) | null,
) {
  if (!a) return null;
  let data: unknown;
  const parsed = encoding === "jsonParsed" && !slice ? parsedTokenData(cluster, a) : null;
  if (parsed) data = parsed;
  else {
    const bytes = slice ? slice(a.data) : a.data;
    if (encoding === "base58" || encoding === "binary") {
      if (bytes.length > 128)
        throw invalidParams("Encoded binary (base 58) data should be less than 128 bytes, please use Base64 encoding.");
      data = encoding === "binary" ? b58.encode(bytes) : [b58.encode(bytes), "base58"];
    } else data = [b64(bytes), "base64"];
  }
  return {
    data,
    executable: a.executable,
    lamports: a.lamports,
    owner: a.programAddress,
    rentEpoch: RENT_EXEMPT_EPOCH,
    space: a.data.length,
  };
}

/** Decodes a wire transaction given as base58 (the spec's default) or base64. */
function wireBytes(encoded: string, encoding: unknown): Uint8Array {
  if (encoding === undefined || encoding === null || encoding === "base58") {
    try {
      return b58.decode(encoded);
    } catch {
      throw invalidParams("invalid base58 encoding");
    }
  }
  if (encoding === "base64") {
    if (encoded.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(encoded)) throw invalidParams("invalid base64 encoding");
    return new Uint8Array(Buffer.from(encoded, "base64"));
  }
  throw invalidParams(`unsupported encoding: ${String(encoding)}. Supported encodings: base58, base64`);
}

function parseTransactionParam(encoded: string, encoding: unknown) {
  try {
    return parseWireTransaction(wireBytes(encoded, encoding));
  } catch (e) {
    if (e instanceof TransactionDecodeError) throw invalidParams(e.message);
    throw e;
  }
}

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
function describeError(err: RpcTransactionError): string {
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

function returnDataJson(r: ExecutionReport) {
  return r.returnData ? { programId: r.returnData.programId, data: [b64(r.returnData.data), "base64"] } : null;
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
  if (programId === TOKEN_2022_PROGRAM_ADDRESS || programId === "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA") {
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
  return { programId, accounts, data: b58.encode(data), stackHeight };
}

function innerInstructionsJson(groups: ExecutionReport["innerInstructions"], keys: Address[] | null) {
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
        : { programIdIndex: ix.programIdIndex, accounts: ix.accounts, data: b58.encode(ix.data), stackHeight: ix.stackHeight },
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

function transactionJson(t: LandedTransaction, encoding: string) {
  const { message, tx, wire } = t.parsed;
  if (encoding === "base64") return [b64(wire), "base64"];
  if (encoding === "base58") return [b58.encode(wire), "base58"];
  const signatures = Object.values(tx.signatures).map((s) => (s ? b58.encode(s) : b58.encode(new Uint8Array(64))));
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
        data: b58.encode(Uint8Array.from(ix.data ?? [])),
        stackHeight: null,
      })),
      addressTableLookups: lookupsJson(message),
    },
  };
}

function metaJson(t: LandedTransaction, encoding: string) {
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
function memoOf(t: LandedTransaction): string | null {
  const { message } = t.parsed;
  const memos = message.instructions
    .filter((ix) => MEMO_PROGRAMS.has(t.accountKeys[ix.programAddressIndex] ?? ""))
    .map((ix) => {
      const data = Uint8Array.from(ix.data ?? []);
      return `[${data.length}] ${new TextDecoder().decode(data)}`;
    });
  return memos.length > 0 ? memos.join("; ") : null;
}

/** One getProgramAccounts filter: dataSize, or memcmp with base58 (default) or base64 bytes. */
function filterOf(f: unknown): (data: Uint8Array) => boolean {
  const spec = f as { dataSize?: unknown; memcmp?: { offset?: unknown; bytes?: unknown; encoding?: unknown } } | null;
  if (spec && typeof spec.dataSize === "number" && Number.isSafeInteger(spec.dataSize)) {
    const size = spec.dataSize;
    return (d) => d.length === size;
  }
  const m = spec?.memcmp;
  if (m && typeof m.offset === "number" && Number.isSafeInteger(m.offset) && m.offset >= 0 && typeof m.bytes === "string") {
    const offset = m.offset;
    let want: Uint8Array;
    if (m.encoding === "base64") want = wireBytes(m.bytes, "base64");
    else if (m.encoding === undefined || m.encoding === null || m.encoding === "base58") want = wireBytes(m.bytes, "base58");
    else throw invalidParams("unsupported memcmp encoding");
    return (d) => d.length >= offset + want.length && want.every((b, i) => d[offset + i] === b);
  }
  throw invalidParams("invalid filter");
}

// ---- server -------------------------------------------------------------------------------

export interface LocalSolanaRpcOptions {
  /** Default 0: any free port (kept across stop/restart). */
  port?: number;
  host?: string;
}

export type LocalSolanaRpc = Awaited<ReturnType<typeof startLocalSolanaRpc>>;

export async function startLocalSolanaRpc(cluster: LocalCluster, opts: LocalSolanaRpcOptions = {}) {
  const host = opts.host ?? "127.0.0.1";
  let port = opts.port ?? 0;
  let server: Server | null = null;
  const sockets = new Set<Socket>();
  const calls = new Map<string, number>();
  let dropsLeft = 0;
  const silentLandings: ("drop" | "error")[] = [];
  let faucet: KeyPairSigner | null = null;
  const identity = getAddressDecoder().decode(randomBytes(32));

  const context = (commitment: Commitment = "processed") => ({ slot: cluster.slotAt(commitment), apiVersion: API_VERSION });

  function checkMinContextSlot(c: Config, commitment: Commitment) {
    const min = optionalU64(c, "minContextSlot");
    if (min !== null && cluster.slotAt(commitment) < min) {
      throw new RpcError(-32016, "Minimum context slot has not been reached", { contextSlot: cluster.slotAt(commitment) });
    }
  }

  /** Reads the usual trailing config: commitment (default finalized, as a node) and minContextSlot. */
  function readConfig(params: unknown[], i: number): { c: Config; commitment: Commitment } {
    const c = configAt(params, i);
    const commitment = commitmentOf(c);
    checkMinContextSlot(c, commitment);
    return { c, commitment };
  }

  async function requestAirdrop(to: Address, amount: bigint): Promise<string> {
    // A real faucet transfer: it lands in a slot and has a status, so confirmation flows work.
    faucet ??= await generateKeyPairSigner();
    cluster.airdrop(faucet.address, amount + 1_000_000_000n);
    const data = new Uint8Array(12);
    const view = new DataView(data.buffer);
    view.setUint32(0, 2, true);
    view.setBigUint64(4, amount, true);
    const latest = cluster.latestBlockhash("processed");
    const message = pipe(
      createTransactionMessage({ version: 0 }),
      (m) => setTransactionMessageFeePayerSigner(faucet!, m),
      (m) =>
        setTransactionMessageLifetimeUsingBlockhash(
          { blockhash: latest.blockhash as Blockhash, lastValidBlockHeight: latest.lastValidBlockHeight },
          m,
        ),
      (m) =>
        appendTransactionMessageInstruction(
          {
            programAddress: SYSTEM_PROGRAM as Address,
            accounts: [
              { address: faucet!.address, role: AccountRole.WRITABLE_SIGNER, signer: faucet! },
              { address: to, role: AccountRole.WRITABLE },
            ],
            data,
          },
          m,
        ),
    );
    const signed = await signTransactionMessageWithSigners(message);
    const parsed = parseWireTransaction(new Uint8Array(Buffer.from(getBase64EncodedWireTransaction(signed), "base64")));
    await cluster.send(parsed, { skipPreflight: true });
    return parsed.signature;
  }

  const methods: Record<string, (params: unknown[]) => unknown> = {
    getHealth: () => "ok",
    getVersion: () => ({ "solana-core": `${API_VERSION}-litesvm-simulated`, "feature-set": 0 }),
    getGenesisHash: () => cluster.genesisHash,
    getIdentity: () => ({ identity }),
    getSlot: (p) => cluster.slotAt(readConfig(p, 0).commitment),
    getBlockHeight: (p) => cluster.blockHeightAt(readConfig(p, 0).commitment),
    getEpochInfo: (p) => {
      const { commitment } = readConfig(p, 0);
      const slot = cluster.slotAt(commitment);
      const slotsInEpoch = 432_000n;
      return {
        absoluteSlot: slot,
        blockHeight: cluster.blockHeightAt(commitment),
        epoch: slot / slotsInEpoch,
        slotIndex: slot % slotsInEpoch,
        slotsInEpoch,
        transactionCount: null,
      };
    },
    getLatestBlockhash: (p) => {
      const { commitment } = readConfig(p, 0);
      const latest = cluster.latestBlockhash(commitment);
      return { context: context(commitment), value: { blockhash: latest.blockhash, lastValidBlockHeight: latest.lastValidBlockHeight } };
    },
    isBlockhashValid: (p) => {
      const blockhash = stringAt(p, 0);
      const { commitment } = readConfig(p, 1);
      return { context: context(commitment), value: cluster.isBlockhashValid(blockhash, commitment) };
    },
    getBalance: (p) => {
      const a = addressAt(p, 0);
      const { commitment } = readConfig(p, 1);
      return { context: context(commitment), value: cluster.solBalance(a) };
    },
    getAccountInfo: (p) => {
      const a = addressAt(p, 0);
      const { c, commitment } = readConfig(p, 1);
      return { context: context(commitment), value: encodeAccount(cluster, cluster.account(a), encodingOf(c, "binary"), sliceOf(c)) };
    },
    getMultipleAccounts: (p) => {
      const list = p[0];
      if (!Array.isArray(list)) throw invalidParams("expected an array of addresses");
      if (list.length > MAX_MULTIPLE_ACCOUNTS) throw invalidParams(`Too many inputs provided; max ${MAX_MULTIPLE_ACCOUNTS}`);
      const addresses = list.map((_, i) => addressAt(list, i));
      const { c, commitment } = readConfig(p, 1);
      const encoding = encodingOf(c, "base64");
      const slice = sliceOf(c);
      return { context: context(commitment), value: addresses.map((a) => encodeAccount(cluster, cluster.account(a), encoding, slice)) };
    },
    getTokenAccountBalance: (p) => {
      const a = addressAt(p, 0);
      const { commitment } = readConfig(p, 1);
      const acc = cluster.account(a);
      if (!acc) throw invalidParam("could not find account");
      const token = cluster.readTokenAccount(a);
      if (!token) throw invalidParam("not a Token account");
      return { context: context(commitment), value: uiTokenAmount(token.token.amount, token.decimals) };
    },
    getMinimumBalanceForRentExemption: (p) => {
      const len = p[0];
      if (typeof len !== "number" || !Number.isSafeInteger(len) || len < 0 || len > 10 * 1024 * 1024)
        throw invalidParams("expected a data length");
      readConfig(p, 1);
      return cluster.svm.minimumBalanceForRentExemption(BigInt(len));
    },
    getFeeForMessage: (p) => {
      const encoded = stringAt(p, 0);
      const { commitment } = readConfig(p, 1);
      let message;
      try {
        message = getCompiledTransactionMessageDecoder().decode(wireBytes(encoded, "base64"));
      } catch (e) {
        if (e instanceof RpcError) throw e;
        throw invalidParams(`invalid message: ${(e as Error).message}`);
      }
      if (message.version !== "legacy" && message.version !== 0) throw invalidParams("unsupported message version");
      const value = cluster.isBlockhashValid(message.lifetimeToken, commitment) ? feeOf(message) : null;
      return { context: context(commitment), value };
    },
    getRecentPrioritizationFees: (p) => {
      if (p[0] !== undefined && (!Array.isArray(p[0]) || p[0].some((a) => typeof a !== "string" || !isAddress(a))))
        throw invalidParams("expected an array of addresses");
      // Nothing competes for block space here; the recent slots report no priority fee.
      const now = cluster.slot;
      return Array.from({ length: 150 }, (_, i) => ({ slot: now - 149n + BigInt(i), prioritizationFee: 0 }));
    },
    simulateTransaction: async (p) => {
      const encoded = stringAt(p, 0);
      const { c, commitment } = readConfig(p, 1);
      const sigVerify = optionalBool(c, "sigVerify");
      const replaceRecentBlockhash = optionalBool(c, "replaceRecentBlockhash");
      if (sigVerify && replaceRecentBlockhash) throw invalidParams("sigVerify may not be used with replaceRecentBlockhash");
      const innerInstructions = optionalBool(c, "innerInstructions");
      const wanted = c.accounts as { addresses?: unknown; encoding?: unknown } | undefined;
      if (
        wanted !== undefined &&
        wanted !== null &&
        (!Array.isArray(wanted.addresses) || wanted.addresses.some((a) => typeof a !== "string" || !isAddress(a)))
      ) {
        throw invalidParams("accounts.addresses must be an array of addresses");
      }
      const accountEncoding = wanted ? encodingOf({ encoding: wanted.encoding ?? "base64" }, "base64") : "base64";
      if (accountEncoding === "binary" || accountEncoding === "base58")
        throw invalidParams("base58 encoding not supported for simulation accounts");
      const parsed = parseTransactionParam(encoded, c.encoding);
      const out = await cluster.simulate(parsed, { sigVerify, replaceRecentBlockhash });
      if (out.kind === "signature-failed") throw new RpcError(-32003, "Transaction signature verification failure");
      const keys = innerInstructions ? cluster.accountKeysOf(parsed.message)?.keys : null;
      const post = new Map((out.postAccounts ?? []).map((a) => [a.address as string, { ...a, data: Uint8Array.from(a.data) }]));
      return {
        context: context(commitment),
        value: {
          err: out.err,
          logs: out.logs,
          accounts: wanted
            ? (wanted.addresses as Address[]).map((a) => encodeAccount(cluster, post.get(a) ?? cluster.account(a), accountEncoding, null))
            : null,
          unitsConsumed: out.unitsConsumed,
          returnData: returnDataJson(out),
          innerInstructions: innerInstructions ? innerInstructionsJson(out.innerInstructions, keys ?? null) : null,
          replacementBlockhash: out.replacementBlockhash,
        },
      };
    },
    sendTransaction: async (p) => {
      const encoded = stringAt(p, 0);
      const { c } = readConfig(p, 1);
      const skipPreflight = optionalBool(c, "skipPreflight");
      optionalU64(c, "maxRetries");
      const parsed = parseTransactionParam(encoded, c.encoding);
      if (dropsLeft > 0) {
        dropsLeft--;
        return parsed.signature;
      }
      const silently = silentLandings.shift();
      const out = await cluster.send(parsed, { skipPreflight });
      if (silently === "drop") throw new DropConnection();
      if (silently === "error") throw new RpcError(-32603, "Internal error");
      if (out.kind === "signature-failed") throw new RpcError(-32003, "Transaction signature verification failure");
      if (out.kind === "preflight-failed") {
        const s = out.simulation;
        throw new RpcError(-32002, `Transaction simulation failed: ${describeError(s.err!)}`, {
          accounts: null,
          err: s.err,
          innerInstructions: null,
          logs: s.logs,
          replacementBlockhash: null,
          returnData: returnDataJson(s),
          unitsConsumed: s.unitsConsumed,
        });
      }
      return out.signature;
    },
    getSignatureStatuses: (p) => {
      const list = p[0];
      if (!Array.isArray(list)) throw invalidParams("expected an array of signatures");
      if (list.length > MAX_SIGNATURE_STATUSES) throw invalidParams(`Too many inputs provided; max ${MAX_SIGNATURE_STATUSES}`);
      for (const s of list) if (typeof s !== "string" || !isSignature(s)) throw invalidParam("Invalid");
      const c = configAt(p, 1);
      const search = optionalBool(c, "searchTransactionHistory");
      return {
        context: context("processed"),
        value: (list as string[]).map((s) => {
          const st = cluster.statusOf(s, search);
          return st && { ...st, status: st.err === null ? { Ok: null } : { Err: st.err } };
        }),
      };
    },
    getSignaturesForAddress: (p) => {
      const a = addressAt(p, 0);
      const { c, commitment } = readConfig(p, 1);
      if (commitment === "processed") throw invalidParams("Method does not support commitment below `confirmed`");
      const limit = optionalU64(c, "limit") ?? 1000n;
      if (limit < 1n || limit > 1000n) throw invalidParams("Invalid limit; max 1000");
      const bound = (key: string) => {
        const v = c[key];
        if (v === undefined || v === null) return null;
        if (typeof v !== "string" || !isSignature(v)) throw invalidParam("Invalid");
        return v;
      };
      const before = bound("before");
      const until = bound("until");
      let list = cluster.transactionsOf(a, commitment);
      if (before) {
        const i = list.findIndex((t) => t.parsed.signature === before);
        list = i < 0 ? [] : list.slice(i + 1);
      }
      if (until) {
        const i = list.findIndex((t) => t.parsed.signature === until);
        if (i >= 0) list = list.slice(0, i);
      }
      return list.slice(0, Number(limit)).map((t) => ({
        signature: t.parsed.signature,
        slot: t.slot,
        err: t.err,
        memo: memoOf(t),
        blockTime: t.blockTime,
        confirmationStatus: cluster.statusOf(t.parsed.signature, true)?.confirmationStatus ?? null,
      }));
    },
    getProgramAccounts: (p) => {
      const program = addressAt(p, 0);
      const { c, commitment } = readConfig(p, 1);
      const encoding = encodingOf(c, "binary");
      const slice = sliceOf(c);
      const filters = c.filters ?? [];
      if (!Array.isArray(filters) || filters.length > 4) throw invalidParams("Too many filters provided; max 4");
      const tests = filters.map(filterOf);
      const accounts = cluster.svm
        .getProgramAccounts(program)
        .map((a) => ({ ...a, data: Uint8Array.from(a.data) }))
        .filter((a) => tests.every((t) => t(a.data)));
      const value = accounts.map((a) => ({ pubkey: a.address, account: encodeAccount(cluster, a, encoding, slice) }));
      return optionalBool(c, "withContext") ? { context: context(commitment), value } : value;
    },
    getTransaction: (p) => {
      const sig = stringAt(p, 0);
      if (!isSignature(sig)) throw invalidParam("Invalid");
      // The legacy form passes the encoding itself as the second parameter.
      const c = typeof p[1] === "string" ? { encoding: p[1] } : configAt(p, 1);
      const commitment = commitmentOf(c);
      if (commitment === "processed") throw invalidParams("Method does not support commitment below `confirmed`");
      const encoding = (c.encoding ?? "json") as string;
      if (!["json", "jsonParsed", "base64", "base58"].includes(encoding)) throw invalidParams(`unsupported encoding: ${encoding}`);
      const maxVersion = optionalU64(c, "maxSupportedTransactionVersion");
      const t = cluster.landedTransaction(sig, commitment);
      if (!t) return null;
      const version = t.parsed.message.version;
      if (version === 0 && maxVersion === null) {
        throw new RpcError(
          -32015,
          'Transaction version (0) is not supported by the requesting client. Please try the request again with the following configuration parameter: "maxSupportedTransactionVersion": 0',
        );
      }
      return {
        slot: t.slot,
        blockTime: t.blockTime,
        transaction: transactionJson(t, encoding),
        meta: metaJson(t, encoding),
        version: maxVersion === null ? undefined : version,
      };
    },
    requestAirdrop: async (p) => {
      const to = addressAt(p, 0);
      const amount = p[1];
      if (typeof amount !== "number" || !Number.isSafeInteger(amount) || amount <= 0)
        throw invalidParams("lamports must be a positive u64");
      readConfig(p, 2);
      return requestAirdrop(to, BigInt(amount));
    },
  };

  /** One JSON-RPC request object → its response object (null for a notification). */
  async function answer(req: unknown): Promise<Record<string, unknown> | null> {
    const r = req as { jsonrpc?: unknown; method?: unknown; params?: unknown; id?: unknown } | null;
    const validId = (x: unknown) => x === null || typeof x === "string" || (typeof x === "number" && Number.isFinite(x));
    const id = r && typeof r === "object" && validId(r.id) ? r.id : null;
    const error = (e: RpcError) => ({ jsonrpc: "2.0", error: { code: e.code, message: e.message, data: e.data }, id });
    if (
      !r ||
      typeof r !== "object" ||
      Array.isArray(r) ||
      r.jsonrpc !== "2.0" ||
      typeof r.method !== "string" ||
      (r.id !== undefined && !validId(r.id))
    ) {
      return error(new RpcError(-32600, "Invalid request"));
    }
    const method = Object.hasOwn(methods, r.method) ? methods[r.method] : undefined;
    if (method) calls.set(r.method, (calls.get(r.method) ?? 0) + 1);
    try {
      if (!method) throw new RpcError(-32601, "Method not found");
      if (r.params !== undefined && r.params !== null && !Array.isArray(r.params))
        throw invalidParams("invalid type: map, expected a sequence");
      const result = await method((r.params as unknown[] | undefined) ?? []);
      return r.id === undefined ? null : { jsonrpc: "2.0", result, id };
    } catch (e) {
      if (e instanceof DropConnection) throw e;
      if (r.id === undefined) return null;
      return error(e instanceof RpcError ? e : new RpcError(-32603, "Internal error"));
    }
  }

  async function readBody(req: IncomingMessage): Promise<string | null> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY_BYTES) return null;
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks).toString("utf8");
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    if (req.method === "GET" && req.url === "/health") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok");
      return;
    }
    if (req.method !== "POST") {
      res.writeHead(405, { allow: "POST" }).end();
      return;
    }
    const body = await readBody(req);
    if (body === null) {
      res.writeHead(413).end();
      return;
    }
    let payload: unknown;
    let out: unknown;
    try {
      payload = JSON.parse(body);
    } catch {
      out = { jsonrpc: "2.0", error: { code: -32700, message: "Parse error" }, id: null };
    }
    try {
      if (out === undefined && Array.isArray(payload)) {
        if (payload.length === 0) out = { jsonrpc: "2.0", error: { code: -32600, message: "Invalid request" }, id: null };
        else {
          const answers = [];
          for (const item of payload) answers.push(await answer(item));
          out = answers.filter((a) => a !== null);
        }
      } else if (out === undefined) out = await answer(payload);
    } catch (e) {
      if (e instanceof DropConnection) {
        req.socket.destroy();
        return;
      }
      throw e;
    }
    const text = out === null || (Array.isArray(out) && out.length === 0) ? "" : toJson(out);
    res.writeHead(200, { "content-type": "application/json" }).end(text);
  }

  async function listen() {
    const s = createServer((req, res) => {
      handle(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(500).end();
        else res.destroy();
      });
    });
    s.on("connection", (socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
    });
    s.on("clientError", (_err, socket) => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      s.once("error", reject);
      s.listen(port, host, () => {
        s.off("error", reject);
        resolve();
      });
    });
    port = (s.address() as AddressInfo).port;
    server = s;
  }

  /** Closes the port and cuts open connections: new requests are refused, in-flight ones reset. */
  async function stop() {
    const s = server;
    if (!s) return;
    server = null;
    const closed = new Promise<void>((resolve) => s.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    await closed;
  }

  /** Listens again on the same port after stop(). */
  async function restart() {
    if (!server) await listen();
  }

  await listen();
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;

  const faults = {
    stop,
    restart,
    /** The next n sendTransaction calls answer with the signature, but the transaction is lost (it never lands). */
    dropSends(n = 1) {
      dropsLeft += n;
    },
    /**
     * The next n sendTransaction calls are executed as usual (they land when valid), but the caller
     * never learns it: "drop" hangs up without an answer, "error" answers JSON-RPC -32603.
     */
    landSilently(n = 1, how: "drop" | "error" = "drop") {
      for (let i = 0; i < n; i++) silentLandings.push(how);
    },
    /** Freezes the slot clock: nothing confirms or finalizes, no blockhash expires. */
    pauseSlots: () => cluster.pauseSlots(),
    resumeSlots: () => cluster.resumeSlots(),
    /** Cancels pending dropSends / landSilently. */
    clear() {
      dropsLeft = 0;
      silentLandings.length = 0;
    },
  };

  return {
    url,
    port,
    stop,
    restart,
    faults,
    /** How many times a method was called (tests assert, e.g., that a send was not repeated). */
    callCount: (method: string) => calls.get(method) ?? 0,
  };
}
