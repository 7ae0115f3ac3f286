// Transactions on the SIMULATED Solana cluster (LiteSVM, not a validator): simulate and send as a
// node handles them, and the record of what landed. LiteSVM has no status cache that behaves
// like a cluster's, so this keeps one: a signature lands at most once, and a landed transaction
// becomes confirmed and then finalized as the slot clock passes it.
import { getAddressDecoder, type Address } from "@solana/kit";
import type { LiteSVM } from "litesvm";
import type { ClusterAccounts } from "./accounts.js";
import type {
  Commitment,
  CompiledMessage,
  ExecutionReport,
  LandedTransaction,
  ParsedTransaction,
  RpcTransactionError,
  SendOutcome,
  SignatureStatus,
  SimulationOutcome,
  TokenBalance,
} from "./cluster-types.js";
import { isFailure, reportOf, rpcErrorOf } from "./execution-report.js";
import type { SlotClock } from "./slot-clock.js";
import { uiTokenAmount } from "./token-accounts.js";
import { feeOf, signaturesVerify } from "./transaction-wire.js";

/** How far back a status is found without searchTransactionHistory (the validator's status cache). */
const STATUS_CACHE_SLOTS = 300n;
/** Landed transactions kept (dedupe only needs the last 150 blocks' worth; the rest serves getTransaction). */
const LANDED_MEMORY = 100_000;
const LOOKUP_TABLE_HEADER = 56;

const addressDecoder = getAddressDecoder();

export function createExecution(svm: LiteSVM, clock: SlotClock, accounts: ClusterAccounts) {
  const landed = new Map<string, LandedTransaction>();

  /** All account keys in RPC order, or null when a lookup table cannot be resolved. */
  function accountKeysOf(message: CompiledMessage): { keys: Address[]; loaded: { writable: Address[]; readonly: Address[] } } | null {
    const loaded = { writable: [] as Address[], readonly: [] as Address[] };
    const lookups = "addressTableLookups" in message ? (message.addressTableLookups ?? []) : [];
    for (const lookup of lookups) {
      const table = accounts.account(lookup.lookupTableAddress);
      if (!table) return null;
      const entries = table.data.subarray(LOOKUP_TABLE_HEADER);
      const at = (i: number) => {
        if ((i + 1) * 32 > entries.length) return null;
        return addressDecoder.decode(entries.subarray(i * 32, (i + 1) * 32));
      };
      const load = (indexes: readonly number[], into: Address[]) =>
        indexes.every((i) => {
          const a = at(i);
          if (a) into.push(a);
          return a !== null;
        });
      if (!load(lookup.writableIndexes, loaded.writable) || !load(lookup.readonlyIndexes, loaded.readonly)) return null;
    }
    return { keys: [...message.staticAccounts, ...loaded.writable, ...loaded.readonly], loaded };
  }

  function tokenBalancesOf(keys: Address[]): TokenBalance[] {
    const out: TokenBalance[] = [];
    keys.forEach((key, accountIndex) => {
      const t = accounts.readTokenAccount(key);
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
    const slot = clock.slot;
    if (!searchHistory && t.slot + STATUS_CACHE_SLOTS < slot) return null;
    const confirmationStatus: Commitment =
      t.slot <= clock.slotAt("finalized") ? "finalized" : t.slot <= clock.slotAt("confirmed") ? "confirmed" : "processed";
    return { slot: t.slot, confirmations: confirmationStatus === "finalized" ? null : slot - t.slot, err: t.err, confirmationStatus };
  }

  /** The transaction if it landed and its slot has reached `commitment`. */
  function landedTransaction(signature: string, commitment: Commitment = "finalized"): LandedTransaction | null {
    const t = landed.get(signature);
    return t && t.slot <= clock.slotAt(commitment) ? t : null;
  }

  /** Landed transactions that reference `addr`, newest first, down to `commitment` (getSignaturesForAddress). */
  function transactionsOf(addr: Address, commitment: Commitment = "finalized"): LandedTransaction[] {
    const visible = clock.slotAt(commitment);
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
      if (!clock.isBlockhashValid(p.message.lifetimeToken)) return refused("BlockhashNotFound");
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
    const latest = replace ? clock.latestBlockhash("confirmed") : null;
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
    if (landed.has(p.signature) || !clock.isBlockhashValid(p.message.lifetimeToken)) return false;
    const resolved = accountKeysOf(p.message);
    if (!resolved) return false;
    const { keys, loaded } = resolved;
    const preBalances = keys.map(accounts.solBalance);
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
    if (failed && accounts.solBalance(p.feePayer) >= preBalances[0]!) return false;
    const report = isFailure(r) ? reportOf(r.meta(), rpcErrorOf(r)) : reportOf(r, null);
    landed.set(p.signature, {
      ...report,
      parsed: p,
      slot: clock.slot,
      blockTime: Math.floor(Date.now() / 1000),
      fee: feeOf(p.message),
      accountKeys: keys,
      loadedAddresses: loaded,
      preBalances,
      postBalances: keys.map(accounts.solBalance),
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

  return { accountKeysOf, simulate, send, statusOf, landedTransaction, transactionsOf };
}
