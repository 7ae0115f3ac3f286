// The seam every payment method plugs into. A method (EIP-3009 `exact`, Permit2 `exact`, …) knows
// its payload, its verify steps, the key that makes a payment unique, the call the relayer sends,
// and how to read success or a spent authorization from the chain. The api, the ledger, the
// worker's exactly-once machine and the operator API only ever talk to this interface.
import type { Hex, Log, PublicClient } from "viem";
import { z } from "zod";
import type { EnabledNetwork, NetworkLookup } from "../config/config.js";
import type { EnabledSvmNetwork } from "../config/solana-networks.js";
import type { SvmRpc } from "../svm/rpc.js";
import type { OutcomeDeps } from "../db/outcomes.js";
import type { PaymentKey } from "../db/schema.js";
import type { NewSettlement, SettlementRow } from "../db/settlements-repo.js";
import type { ClassifiedSignature } from "../evm/signature.js";
import type { SignerRecovery } from "../evm/recovery-threads.js";
import type { FacilitatorRequest, PayloadSchemaFor } from "../x402/wire.js";

/** Seconds an authorization must still be valid for its transfer to be mined (a block and then some). */
export const VALID_BEFORE_MARGIN_S = 6n;

export interface SupportedKind {
  x402Version: 1 | 2;
  scheme: string;
  network: string;
  extra?: Record<string, unknown>;
}

export interface VerifyOutcome {
  isValid: boolean;
  /** The official reason (src/x402/reasons.ts, or the method's own list). */
  invalidReason?: string;
  invalidMessage?: string;
  payer: string;
}

export interface VerifyOptions {
  /** /verify refuses payments already in the ledger; /settle claims them itself. */
  checkLedger: boolean;
  /** Set by /settle: a scheme that charges at settlement (upto) reads the requirements' amount as the charge. */
  settling?: boolean;
  blockTag?: "latest" | "pending";
}

export type Verifier = (req: FacilitatorRequest, opts: VerifyOptions) => Promise<VerifyOutcome>;

export interface VerifierDeps {
  networks: NetworkLookup;
  clientFor(chainId: number): PublicClient;
  /** Whether the ledger already holds this payment (answered without RPC). */
  isClaimed(key: PaymentKey): Promise<boolean>;
  /** ECDSA signer recovery; inline unless helper threads are given. */
  recovery?: SignerRecovery;
  /** Our relayer addresses (upto: the facilitator a payment names must be one of them). */
  relayerAddresses?: () => Promise<readonly string[]>;
  nowMs?: () => number;
  /** Solana clusters: their RPC and the fee payers the workers hold (absent when none is enabled). */
  svm?: SvmVerifierDeps;
}

export interface SvmVerifierDeps {
  rpcFor(network: EnabledSvmNetwork): SvmRpc;
  feePayers(): Promise<readonly string[]>;
}

/** The columns a method fills when a verified payment is claimed in the ledger. */
export type LedgerEntry = Pick<
  NewSettlement,
  | "chainId"
  | "scheme"
  | "method"
  | "paymentKey"
  | "asset"
  | "payer"
  | "nonce"
  | "payTo"
  | "value"
  | "chargedAmount"
  | "validAfter"
  | "validBefore"
  | "signature"
  | "payload"
>;

/** What a request says before anything is checked: enough to answer it and to find its row. */
export interface RequestFacts {
  payer: string;
  /** requirements.network exactly as sent: echoed back in answers. */
  network: string;
  /** Undefined when the network is not enabled or the payload cannot name its payment. */
  key?: PaymentKey;
}

/** "spent": the authorization is used (explainSpent tells how); a reason ends the row failed; undefined: it would go through after all. */
export type Refusal = "spent" | { reason: string; message?: string } | undefined;

export interface Call {
  to: Hex;
  data: Hex;
}

/** The worker's view of what the chain says about a row, and what to send for it. */
export interface SettlementSide {
  /** The call the relayer sends (`signature` with any ERC-6492 wrapper kept only while needed). */
  call(row: SettlementRow, signature: ClassifiedSignature): Call;
  /** The relayer the call must come from, when the contract checks its caller (upto); else any. */
  sender?(row: SettlementRow): Hex | undefined;
  /** Whether the chain shows this payment's authorization as used; undefined when it cannot tell. */
  isSpent(client: PublicClient, row: SettlementRow): Promise<boolean | undefined>;
  /** Whether a successful receipt's logs carry this payment (the transfer and the method's own evidence). */
  paidIn(logs: readonly Log[], row: SettlementRow): boolean;
  /** The authorization is spent: find out whether the money arrived (ours or not), or why not. */
  explainSpent(deps: OutcomeDeps, client: PublicClient, row: SettlementRow, fromBlock: bigint): Promise<SettlementRow | undefined>;
  /** Why the chain refuses the call now (asked after a failed estimate). */
  refusal(client: PublicClient, row: SettlementRow, signature: ClassifiedSignature): Promise<Refusal>;
  /** The reason a row ends `expired` with when its authorization ran out before it was mined. */
  expiredReason: string;
  /** The reason a replay of a payment already settled (and reported) is refused with. */
  usedReason: string;
  /** Whether the row's call may ride in a Multicall3 batch with others. */
  batchable(row: SettlementRow, signature: ClassifiedSignature): boolean;
}

interface MethodCommon {
  /** The x402 scheme served ("exact") and this method's name, as stored in the ledger. */
  scheme: string;
  method: string;
  /** The key that marks this method's payload ("authorization", "permit2Authorization", "transaction"), and the schema it reads it with. */
  payloadKey: string;
  payloadSchema: z.ZodType;
  extensions?: string[];
  facts(req: FacilitatorRequest, networks: NetworkLookup): RequestFacts;
  createVerifier(deps: VerifierDeps): Verifier;
  /** The ledger columns of a payment that verified. */
  ledgerEntry(req: FacilitatorRequest, networks: NetworkLookup): LedgerEntry;
}

/** An EVM payment method: the relayer sends a call for it. */
export interface PaymentMethod extends MethodCommon {
  family?: "evm";
  /** The kinds this method adds to /supported for a network (given our relayer addresses), and the extensions it takes part in. */
  kinds(network: EnabledNetwork, relayers: readonly string[]): SupportedKind[];
  settlement: SettlementSide;
}

/** A Solana payment method: the payer signed a whole transaction, the fee payer co-signs and sends it. */
export interface SvmPaymentMethod extends MethodCommon {
  family: "svm";
  /** The kinds this method adds to /supported for a cluster, given the fee payers the workers hold. */
  kinds(network: EnabledSvmNetwork, feePayers: readonly string[]): SupportedKind[];
  settlement: Pick<SettlementSide, "expiredReason" | "usedReason">;
}

export type AnyPaymentMethod = PaymentMethod | SvmPaymentMethod;

/** What /supported is built from: the enabled networks of each family and who signs on them. */
export interface SupportedContext {
  networks: readonly EnabledNetwork[];
  relayers: readonly string[];
  svmNetworks?: readonly EnabledSvmNetwork[];
  feePayers?: readonly string[];
}

/** The enabled methods, each chosen by the key that marks its payload and the scheme asked for. */
export interface MethodRegistry {
  forRequest(req: FacilitatorRequest): AnyPaymentMethod;
  /** The schema the wire parser reads a payload with: its method's; without one, a refusal naming the payload. */
  payloadSchemaFor: PayloadSchemaFor;
  forRow(row: Pick<SettlementRow, "scheme" | "method">): AnyPaymentMethod;
  /** The EVM method of a row the relayer sends for (a Solana row here is a routing bug). */
  evmForRow(row: Pick<SettlementRow, "scheme" | "method">): PaymentMethod;
  /** /supported kinds over every method and network, each kind once. */
  kinds(ctx: SupportedContext): SupportedKind[];
  /** /supported extensions over every method, each once. */
  extensions(): string[];
  /** The schemes served, each once. */
  schemes(): string[];
}

export function createRegistry(methods: readonly AnyPaymentMethod[]): MethodRegistry {
  const fallback = methods[0];
  if (!fallback) throw new Error("no payment method enabled");
  const byName = new Map(methods.map((m) => [`${m.scheme}/${m.method}`, m]));
  // The scheme's own reader first; else any that reads the payload, which then names the scheme it refuses.
  const methodOf = (payload: Record<string, unknown>, scheme: string) =>
    methods.find((m) => m.payloadKey in payload && m.scheme === scheme) ?? methods.find((m) => m.payloadKey in payload);
  // A payload no enabled method reads is malformed input: a 400 that names what it may carry.
  const keys = methods.map((m) => m.payloadKey).join(" or ");
  const unread = z.unknown().refine(() => false, `must carry ${keys}`);
  function forRow(row: Pick<SettlementRow, "scheme" | "method">): AnyPaymentMethod {
    const m = byName.get(`${row.scheme}/${row.method}`);
    if (!m) throw new Error(`settlement of ${row.scheme} through ${row.method}, which this process does not serve`);
    return m;
  }
  return {
    // Only reached without a method for code that skipped the wire parser; the first one refuses it.
    forRequest: (req) => methodOf(req.paymentPayload.payload, req.paymentRequirements.scheme) ?? fallback,
    payloadSchemaFor: (payload, scheme) => methodOf(payload, scheme)?.payloadSchema ?? unread,
    forRow,
    evmForRow(row) {
      const m = forRow(row);
      if (m.family === "svm") throw new Error(`settlement of ${row.scheme} through ${row.method} is not sent by an EVM relayer`);
      return m;
    },
    extensions: () => [...new Set(methods.flatMap((m) => m.extensions ?? []))],
    schemes: () => [...new Set(methods.map((m) => m.scheme))],
    kinds({ networks, relayers, svmNetworks = [], feePayers = [] }) {
      const seen = new Set<string>();
      const all = methods.flatMap((m) =>
        m.family === "svm" ? svmNetworks.flatMap((n) => m.kinds(n, feePayers)) : networks.flatMap((n) => m.kinds(n, relayers)),
      );
      // v2 kinds before v1, as the official facilitator lists them.
      return [...all.filter((k) => k.x402Version === 2), ...all.filter((k) => k.x402Version === 1)].filter((k) => {
        const id = `${k.x402Version}:${k.scheme}:${k.network}`;
        return !seen.has(id) && !!seen.add(id);
      });
    },
  };
}
