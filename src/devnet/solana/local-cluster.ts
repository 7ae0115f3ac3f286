// SIMULATED Solana cluster: one in-process LiteSVM (the real Solana runtime executing real
// programs), not a validator. LiteSVM has no slots, blockhash queue or status cache of its own
// that behave like a cluster's, so this file adds them: slots tick on a timer, every slot issues
// a blockhash that stays usable for 150 blocks, a signature lands at most once, and a landed
// transaction becomes confirmed and then finalized as slots pass. The JSON-RPC face over it is
// rpc-server.ts; nothing in production code knows LiteSVM is behind the URL.
import { randomBytes } from "node:crypto";
import { Clock, LiteSVM, type FailedTransactionMetadata, type TransactionMetadata } from "litesvm";
import {
  address as toAddress,
  getAddressDecoder,
  getBase58Decoder,
  getCompiledTransactionMessageDecoder,
  getPublicKeyFromAddress,
  getTransactionDecoder,
  lamports as toLamports,
  verifySignature,
  type Address,
  type EncodedAccount,
  type Signature,
  type SignatureBytes,
  type Transaction,
} from "@solana/kit";
import {
  AccountState,
  findAssociatedTokenPda,
  getMintDecoder,
  getMintEncoder,
  getTokenDecoder,
  getTokenEncoder,
  TOKEN_PROGRAM_ADDRESS,
  type Mint,
  type MintArgs,
  type Token,
} from "@solana-program/token";

/** Full genesis hashes; a cluster's CAIP-2 reference is the first 32 characters. */
export const SOLANA_GENESIS_HASHES = {
  mainnet: "5eykt4UsFv8P8NJdTREpY1vzqKqZKvdpKuc147dw2N9d",
  devnet: "EtWTRABZaYq6iMfeYKouRu166VU2xqa1wcaWoxPkrZBG",
  testnet: "4uhcVJyU9pJkvQyS88uRDiswHXSCkY3zQawwpjk2NsNY",
} as const;

export const TOKEN_2022_PROGRAM_ADDRESS = toAddress("TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb");
const COMPUTE_BUDGET_PROGRAM = "ComputeBudget111111111111111111111111111111";

/** A blockhash is usable while the block height is at most its own height plus this. */
export const MAX_PROCESSING_AGE = 150n;
/** How far back a status is found without searchTransactionHistory (the validator's status cache). */
const STATUS_CACHE_SLOTS = 300n;
/** Slots whose blockhash and time are remembered (commitment lookups, validity window). */
const SLOT_MEMORY = 512;
/** Landed transactions kept (dedupe only needs the last 150 blocks' worth; the rest serves getTransaction). */
const LANDED_MEMORY = 100_000;
const LAMPORTS_PER_SIGNATURE = 5_000n;
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
const MINT_SIZE = 82;
const TOKEN_ACCOUNT_SIZE = 165;
// Token-2022 accounts with extensions put an account-type byte right after the 165-byte base.
const ACCOUNT_TYPE_MINT = 1;
const ACCOUNT_TYPE_ACCOUNT = 2;
const LOOKUP_TABLE_HEADER = 56;
const ZERO_SIGNATURE = getBase58Decoder().decode(new Uint8Array(64)) as Signature;

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

type DecodedMessage = ReturnType<ReturnType<typeof getCompiledTransactionMessageDecoder>["decode"]>;
/** A legacy or v0 message (what clusters execute today; kit's draft v1 format is refused). */
export type CompiledMessage = Extract<DecodedMessage, { version: "legacy" | 0 }>;

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

export interface LocalClusterOptions {
  /** Slot length; slots advance on this timer even when idle. Default 400 ms. */
  slotMs?: number;
  /** Slots after confirmation until a slot is finalized. Default 4. */
  finalizeSlots?: number;
  /** What getGenesisHash answers (see SOLANA_GENESIS_HASHES); default a random one, like a fresh test validator. */
  genesisHash?: string;
  /** Start without the slot timer (tests then advance with warp). */
  paused?: boolean;
}

export class TransactionDecodeError extends Error {}

interface SlotInfo {
  slot: bigint;
  blockHeight: bigint;
  blockhash: string;
  unixTime: number;
}

const base58 = getBase58Decoder();
const addressDecoder = getAddressDecoder();

export function tokenProgramAddress(name: TokenProgramName): Address {
  return name === "token-2022" ? TOKEN_2022_PROGRAM_ADDRESS : TOKEN_PROGRAM_ADDRESS;
}

export function isTokenProgram(owner: string): boolean {
  return owner === TOKEN_PROGRAM_ADDRESS || owner === TOKEN_2022_PROGRAM_ADDRESS;
}

/** Decodes a wire transaction the way a node's RPC does before anything else (size limit, then structure). */
export function parseWireTransaction(wire: Uint8Array): ParsedTransaction {
  // PACKET_DATA_SIZE: a node refuses anything that does not fit one packet.
  if (wire.length > 1232) throw new TransactionDecodeError(`transaction too large: ${wire.length} bytes (max: 1232)`);
  let tx: Transaction;
  let decoded: DecodedMessage;
  try {
    tx = getTransactionDecoder().decode(wire);
    decoded = getCompiledTransactionMessageDecoder().decode(tx.messageBytes);
  } catch (e) {
    throw new TransactionDecodeError(`failed to deserialize transaction: ${(e as Error).message}`);
  }
  if (decoded.version !== "legacy" && decoded.version !== 0)
    throw new TransactionDecodeError(`failed to deserialize transaction: unsupported version ${decoded.version}`);
  const message = decoded;
  const signers = Object.keys(tx.signatures) as Address[];
  const feePayer = message.staticAccounts[0];
  if (!feePayer || signers.length === 0) throw new TransactionDecodeError("failed to deserialize transaction: no fee payer");
  const first = tx.signatures[feePayer];
  return { wire, tx, message, feePayer, signature: first ? (base58.decode(first) as Signature) : ZERO_SIGNATURE };
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

/** Whether every required signature is present and valid over the message (a node's sigverify). */
export async function signaturesVerify(parsed: ParsedTransaction): Promise<boolean> {
  for (const [signer, signature] of Object.entries(parsed.tx.signatures)) {
    if (!signature) return false;
    try {
      const key = await getPublicKeyFromAddress(signer as Address);
      if (!(await verifySignature(key, signature as SignatureBytes, parsed.tx.messageBytes))) return false;
    } catch {
      return false;
    }
  }
  return true;
}

/** An initialized Mint in an account of this owner and data, or null (what jsonParsed calls a "mint"). */
export function decodeMintData(owner: string, data: Uint8Array): Mint | null {
  if (!isTokenProgram(owner)) return null;
  const extended =
    owner === TOKEN_2022_PROGRAM_ADDRESS && data.length > TOKEN_ACCOUNT_SIZE && data[TOKEN_ACCOUNT_SIZE] === ACCOUNT_TYPE_MINT;
  if (data.length !== MINT_SIZE && !extended) return null;
  const mint = getMintDecoder().decode(data.subarray(0, MINT_SIZE));
  return mint.isInitialized ? mint : null;
}

/** An initialized token account in an account of this owner and data, or null. */
export function decodeTokenAccountData(owner: string, data: Uint8Array): Token | null {
  if (!isTokenProgram(owner)) return null;
  const extended =
    owner === TOKEN_2022_PROGRAM_ADDRESS && data.length > TOKEN_ACCOUNT_SIZE && data[TOKEN_ACCOUNT_SIZE] === ACCOUNT_TYPE_ACCOUNT;
  if (data.length !== TOKEN_ACCOUNT_SIZE && !extended) return null;
  const token = getTokenDecoder().decode(data.subarray(0, TOKEN_ACCOUNT_SIZE));
  return token.state === AccountState.Uninitialized ? null : token;
}

export function uiTokenAmount(amount: bigint, decimals: number): UiTokenAmount {
  const digits = amount.toString().padStart(decimals + 1, "0");
  const whole = digits.slice(0, digits.length - decimals);
  const fraction = digits.slice(digits.length - decimals).replace(/0+$/, "");
  const uiAmountString = fraction ? `${whole}.${fraction}` : whole;
  return { amount: amount.toString(), decimals, uiAmount: Number(uiAmountString), uiAmountString };
}

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

function reportOf(meta: TransactionMetadata, err: RpcTransactionError | null): ExecutionReport {
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

function isFailure(r: unknown): r is FailedTransactionMetadata {
  return typeof (r as FailedTransactionMetadata).err === "function";
}

export type LocalCluster = ReturnType<typeof createLocalCluster>;

export function createLocalCluster(opts: LocalClusterOptions = {}) {
  const slotMs = opts.slotMs ?? 400;
  const finalizeSlots = BigInt(opts.finalizeSlots ?? 4);
  const genesisHash = opts.genesisHash ?? base58.decode(randomBytes(32));
  // The cluster checks blockhash age and signature uniqueness itself: LiteSVM's blockhash check
  // only accepts its single latest hash, and its history would also remember transactions that
  // never landed (a real node lets those be retried).
  const svm = new LiteSVM().withBlockhashCheck(false).withSigverify(false).withTransactionHistory(0n);

  // Start at LiteSVM's own clock slot (its programs are deployed as of it); block height trails
  // the slot as on a real cluster where some leaders skip their slot.
  let slot = svm.getClock().slot;
  let blockHeight = slot - 20_000_000n;
  const slots: SlotInfo[] = [];
  const blockhashes = new Map<string, SlotInfo>();
  const landed = new Map<string, LandedTransaction>();
  let timer: NodeJS.Timeout | null = null;

  function issueSlot(remember: boolean) {
    slot += 1n;
    blockHeight += 1n;
    if (!remember) return;
    const info = { slot, blockHeight, blockhash: base58.decode(randomBytes(32)), unixTime: Math.floor(Date.now() / 1000) };
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
    timer = setInterval(() => warp(1), slotMs);
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
    return slot - 1n - finalizeSlots;
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

  // ---- accounts -------------------------------------------------------------------------

  function account(addr: Address) {
    const a = svm.getAccount(addr);
    return a.exists ? a : null;
  }

  function solBalance(addr: Address): bigint {
    return account(addr)?.lamports ?? 0n;
  }

  /** Credits lamports directly (a faucet, without the rent rules an airdrop transfer is subject to). */
  function airdrop(addr: Address, amount: bigint) {
    const a = account(addr);
    svm.setAccount({
      address: addr,
      lamports: toLamports((a?.lamports ?? 0n) + amount),
      programAddress: a?.programAddress ?? toAddress("11111111111111111111111111111111"),
      executable: a?.executable ?? false,
      data: a?.data ?? new Uint8Array(),
      space: a?.space ?? 0n,
    });
  }

  function readMint(addr: Address): { mint: Mint; programId: Address } | null {
    const a = account(addr);
    const mint = a && decodeMintData(a.programAddress, a.data);
    return mint ? { mint, programId: a.programAddress } : null;
  }

  function readTokenAccount(addr: Address): { token: Token; programId: Address; decimals: number } | null {
    const a = account(addr);
    const token = a && decodeTokenAccountData(a.programAddress, a.data);
    return token ? { token, programId: a.programAddress, decimals: readMint(token.mint)?.mint.decimals ?? 0 } : null;
  }

  function writeMint(addr: Address, programId: Address, mint: MintArgs) {
    const data = new Uint8Array(getMintEncoder().encode(mint));
    svm.setAccount({
      address: addr,
      lamports: toLamports(svm.minimumBalanceForRentExemption(BigInt(MINT_SIZE))),
      programAddress: programId,
      executable: false,
      data,
      space: BigInt(data.length),
    });
  }

  /** Writes an initialized Mint (no transaction); `address` places it at a fixed address such as a USDC mint. */
  async function createMint(o: {
    address?: Address;
    decimals: number;
    tokenProgram?: TokenProgramName;
    mintAuthority?: Address | null;
    freezeAuthority?: Address | null;
  }) {
    const addr = o.address ?? addressDecoder.decode(randomBytes(32));
    writeMint(addr, tokenProgramAddress(o.tokenProgram ?? "token"), {
      mintAuthority: o.mintAuthority ?? null,
      supply: 0n,
      decimals: o.decimals,
      isInitialized: true,
      freezeAuthority: o.freezeAuthority ?? null,
    });
    return addr;
  }

  async function ataOf(mint: Address, owner: Address, tokenProgram?: TokenProgramName): Promise<Address> {
    const program = tokenProgram ? tokenProgramAddress(tokenProgram) : (account(mint)?.programAddress ?? TOKEN_PROGRAM_ADDRESS);
    const [ata] = await findAssociatedTokenPda({ mint, owner, tokenProgram: program });
    return ata;
  }

  /** Sets the owner's associated token account to `amount` (creating it), keeping the mint's supply the sum of balances. */
  async function fundToken(o: { mint: Address; owner: Address; amount: bigint; tokenProgram?: TokenProgramName }): Promise<Address> {
    const mint = readMint(o.mint);
    if (!mint) throw new Error(`no mint at ${o.mint}; createMint first`);
    const programId = o.tokenProgram ? tokenProgramAddress(o.tokenProgram) : mint.programId;
    const ata = await ataOf(o.mint, o.owner, o.tokenProgram ?? (programId === TOKEN_2022_PROGRAM_ADDRESS ? "token-2022" : "token"));
    const before = readTokenAccount(ata)?.token.amount ?? 0n;
    const data = new Uint8Array(
      getTokenEncoder().encode({
        mint: o.mint,
        owner: o.owner,
        amount: o.amount,
        delegate: null,
        state: AccountState.Initialized,
        isNative: null,
        delegatedAmount: 0n,
        closeAuthority: null,
      }),
    );
    svm.setAccount({
      address: ata,
      lamports: toLamports(svm.minimumBalanceForRentExemption(BigInt(TOKEN_ACCOUNT_SIZE))),
      programAddress: programId,
      executable: false,
      data,
      space: BigInt(data.length),
    });
    writeMint(o.mint, mint.programId, { ...mint.mint, supply: mint.mint.supply - before + o.amount });
    return ata;
  }

  async function tokenBalance(mint: Address, owner: Address, tokenProgram?: TokenProgramName): Promise<bigint> {
    return readTokenAccount(await ataOf(mint, owner, tokenProgram))?.token.amount ?? 0n;
  }

  // ---- transactions ---------------------------------------------------------------------

  /** All account keys in RPC order, or null when a lookup table cannot be resolved. */
  function accountKeysOf(message: CompiledMessage): { keys: Address[]; loaded: { writable: Address[]; readonly: Address[] } } | null {
    const loaded = { writable: [] as Address[], readonly: [] as Address[] };
    const lookups = "addressTableLookups" in message ? (message.addressTableLookups ?? []) : [];
    for (const lookup of lookups) {
      const table = account(lookup.lookupTableAddress);
      if (!table) return null;
      const entries = table.data.subarray(LOOKUP_TABLE_HEADER);
      const at = (i: number) => {
        if ((i + 1) * 32 > entries.length) return null;
        return addressDecoder.decode(entries.subarray(i * 32, (i + 1) * 32));
      };
      for (const i of lookup.writableIndexes) {
        const a = at(i);
        if (!a) return null;
        loaded.writable.push(a);
      }
      for (const i of lookup.readonlyIndexes) {
        const a = at(i);
        if (!a) return null;
        loaded.readonly.push(a);
      }
    }
    return { keys: [...message.staticAccounts, ...loaded.writable, ...loaded.readonly], loaded };
  }

  function tokenBalancesOf(keys: Address[]): TokenBalance[] {
    const out: TokenBalance[] = [];
    keys.forEach((key, accountIndex) => {
      const t = readTokenAccount(key);
      if (!t) return;
      out.push({
        accountIndex,
        mint: t.token.mint,
        owner: t.token.owner,
        programId: t.programId,
        uiTokenAmount: uiTokenAmount(t.token.amount, t.decimals),
      });
    });
    return out;
  }

  function statusOf(signature: string, searchHistory: boolean): SignatureStatus | null {
    const t = landed.get(signature);
    if (!t) return null;
    if (!searchHistory && t.slot + STATUS_CACHE_SLOTS < slot) return null;
    const confirmationStatus: Commitment =
      t.slot <= slotAt("finalized") ? "finalized" : t.slot <= slotAt("confirmed") ? "confirmed" : "processed";
    return { slot: t.slot, confirmations: confirmationStatus === "finalized" ? null : slot - t.slot, err: t.err, confirmationStatus };
  }

  /** The transaction if it landed and its slot has reached `commitment`. */
  function landedTransaction(signature: string, commitment: Commitment = "finalized"): LandedTransaction | null {
    const t = landed.get(signature);
    return t && t.slot <= slotAt(commitment) ? t : null;
  }

  /** Landed transactions that reference `addr`, newest first, down to `commitment` (getSignaturesForAddress). */
  function transactionsOf(addr: Address, commitment: Commitment = "finalized"): LandedTransaction[] {
    const visible = slotAt(commitment);
    return [...landed.values()].reverse().filter((t) => t.slot <= visible && t.accountKeys.includes(addr));
  }

  /** Runs without committing; the checks before execution are a bank's (blockhash age, status cache). */
  function simulateNow(p: ParsedTransaction, replaceRecentBlockhash: boolean): ExecutionReport {
    const refused = (err: RpcTransactionError): ExecutionReport => ({
      err,
      logs: [],
      unitsConsumed: 0n,
      innerInstructions: [],
      returnData: null,
    });
    if (!replaceRecentBlockhash) {
      if (!isBlockhashValid(p.message.lifetimeToken)) return refused("BlockhashNotFound");
      if (landed.has(p.signature)) return refused("AlreadyProcessed");
    }
    let r;
    try {
      r = svm.simulateTransaction(p.tx);
    } catch {
      return refused("SanitizeFailure");
    }
    return isFailure(r) ? reportOf(r.meta(), rpcErrorOf(r)) : { ...reportOf(r.meta(), null), postAccounts: r.postAccounts() };
  }

  async function simulate(
    p: ParsedTransaction,
    o: { sigVerify?: boolean; replaceRecentBlockhash?: boolean } = {},
  ): Promise<SimulationOutcome> {
    if (o.sigVerify && !(await signaturesVerify(p))) return { kind: "signature-failed" };
    const replace = o.replaceRecentBlockhash === true;
    const latest = replace ? latestBlockhash("confirmed") : null;
    return {
      kind: "simulated",
      replacementBlockhash: latest && { blockhash: latest.blockhash, lastValidBlockHeight: latest.lastValidBlockHeight },
      ...simulateNow(p, replace),
    };
  }

  /**
   * Executes in the current slot if a leader would: the blockhash is still valid, the signature
   * has not landed, the fee payer can pay. A transaction that fails in a program still lands (fee
   * charged, `err` set); one refused before execution leaves no trace.
   */
  function execute(p: ParsedTransaction): boolean {
    if (landed.has(p.signature) || !isBlockhashValid(p.message.lifetimeToken)) return false;
    const resolved = accountKeysOf(p.message);
    if (!resolved) return false;
    const { keys, loaded } = resolved;
    const preBalances = keys.map(solBalance);
    const preTokenBalances = tokenBalancesOf(keys);
    let r;
    try {
      r = svm.sendTransaction(p.tx);
    } catch {
      return false;
    }
    const failed = isFailure(r);
    // LiteSVM charges the fee of a transaction that failed during execution and of none refused
    // before it, so a charged fee payer is exactly "the transaction landed".
    if (failed && solBalance(p.feePayer) >= preBalances[0]!) return false;
    const report = isFailure(r) ? reportOf(r.meta(), rpcErrorOf(r)) : reportOf(r, null);
    landed.set(p.signature, {
      ...report,
      parsed: p,
      slot,
      blockTime: Math.floor(Date.now() / 1000),
      fee: feeOf(p.message),
      accountKeys: keys,
      loadedAddresses: loaded,
      preBalances,
      postBalances: keys.map(solBalance),
      preTokenBalances,
      postTokenBalances: tokenBalancesOf(keys),
    });
    if (landed.size > LANDED_MEMORY) landed.delete(landed.keys().next().value!);
    return true;
  }

  /** sendTransaction as a node handles it: optional preflight (sigverify + simulation), then forward to the leader. */
  async function send(p: ParsedTransaction, o: { skipPreflight?: boolean } = {}): Promise<SendOutcome> {
    const signed = await signaturesVerify(p);
    if (!o.skipPreflight) {
      if (!signed) return { kind: "signature-failed" };
      const simulation = simulateNow(p, false);
      if (simulation.err !== null) return { kind: "preflight-failed", simulation };
    }
    // The leader verifies signatures too; an unsigned transaction is dropped there.
    return { kind: "accepted", signature: p.signature, landed: signed && execute(p) };
  }

  warp(Number(finalizeSlots) + 2);
  if (!opts.paused) resumeSlots();

  return {
    /** The LiteSVM instance (for fixtures; production code only sees the RPC). */
    svm,
    genesisHash,
    finalizeSlots,
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
    /** Stops the slot timer for good (the process may exit). */
    close: pauseSlots,
    account,
    solBalance,
    airdrop,
    readMint,
    readTokenAccount,
    createMint,
    fundToken,
    tokenBalance,
    ataOf,
    accountKeysOf,
    simulate,
    send,
    statusOf,
    landedTransaction,
    transactionsOf,
    feeOf,
  };
}
