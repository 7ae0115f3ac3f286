// /settle on the api side: verify, claim the authorization in the ledger (exactly one row per
// authorization, whoever races), wake the worker, and wait a bounded time for the outcome. The
// api never signs; the answer always comes from the ledger row.
import { createHash } from "node:crypto";
import type { Logger } from "pino";
import { DatabaseUnavailableError, QueueUnavailableError } from "../errors.js";
import type { SettlementRow, SettlementsRepo } from "../db/settlements-repo.js";
import type { NetworkLookup } from "../config/config.js";
import type { MethodRegistry, Verifier } from "../schemes/scheme.js";
import type { FacilitatorRequest } from "../x402/wire.js";
import { answerFromRow, failure, isDecided, type SettleResponse } from "./answer.js";
import type { SettlementWaiter } from "./waiter.js";
import type { KeyPolicy } from "../policy/api-keys.js";
import type { Guard, Refusal } from "../policy/guard.js";
import { judgePaymentId, paymentIdOf } from "./payment-identifier.js";

export const Duplicate = "duplicate_settlement";
/** A queue that went away after the claim must not hold the request: the reconciler enqueues later. */
const ENQUEUE_WAIT_MS = 2_000;

function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    work,
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

export interface SettleServiceDeps {
  networks: NetworkLookup;
  methods: MethodRegistry;
  verifier: Verifier;
  repo: Pick<SettlementsRepo, "claim" | "findByKey" | "findById" | "takeSuccessAnswer" | "findByPaymentId">;
  waiter: SettlementWaiter;
  enqueue(id: string): Promise<void>;
  /**
   * Whether the queue is reachable now. While it is not, new settlements are refused (503)
   * before anything is claimed: a claim the worker cannot hear of would settle later, after
   * the caller gave up on it. Known authorizations are still answered from the ledger.
   */
  queueReady?: () => boolean;
  /** How long to wait for the receipt once a transaction exists. */
  settleWaitMs: number;
  /**
   * How long to wait for a transaction to exist at all. A "pending" answer without a hash
   * makes the official middleware refuse the buyer while the payment still goes through, so
   * it is given only when the worker makes no progress for this long.
   */
  settleMaxWaitMs: number;
  logger: Logger;
  /** Policy, budgets and screening, checked before anything is verified. */
  guard?: Pick<Guard, "check">;
  /**
   * Told of a payment the first time its success is answered, when it moved money (not an upto
   * charge of 0, not a replay): the Bazaar catalog's only feed, so nobody rewrites it for free.
   */
  onPaid?: (req: FacilitatorRequest, apiKeyId?: string) => void;
}

/** Key-order independent hash of the request: identical retries match it, any change does not. */
export function requestHash(req: FacilitatorRequest): string {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canonical)
      : v && typeof v === "object"
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
          )
        : v;
  const { paymentPayload, paymentRequirements } = req;
  return createHash("sha256")
    .update(JSON.stringify(canonical({ paymentPayload, paymentRequirements })))
    .digest("hex");
}

export function createSettleService(deps: SettleServiceDeps) {
  const { repo, logger } = deps;

  /** Decided, or past the receipt wait with a transaction to point at. */
  const answerable = (row: SettlementRow, elapsedMs: number) => isDecided(row) || (elapsedMs >= deps.settleWaitMs && !!row.latestTx);

  async function answerClaimed(
    req: FacilitatorRequest,
    row: SettlementRow,
    hash: string,
    payer: string,
    network: string,
    apiKeyId?: string,
  ): Promise<SettleResponse> {
    // The stored result is replayed only to the caller that made it, for the same request.
    if (row.payloadSha256 !== hash || (row.apiKeyId ?? undefined) !== apiKeyId) {
      // Same authorization, different request: never a second transaction, never a second success.
      return {
        ...failure(Duplicate, payer, network, "this authorization was already submitted in a different request"),
        transaction: row.latestTx ?? "",
      };
    }
    let seen = row;
    const latest = isDecided(row)
      ? row
      : await deps.waiter
          .waitFor(
            row.id,
            async () => (seen = (await repo.findById(row.id)) ?? seen),
            answerable,
            Math.max(deps.settleWaitMs, deps.settleMaxWaitMs),
            [deps.settleWaitMs],
            // Before the receipt wait is over only a decided row answers; after it, any move may.
            (state, elapsedMs) => isDecided({ state: state as SettlementRow["state"] }) || elapsedMs >= deps.settleWaitMs,
          )
          .catch((err: unknown) => {
            // Database down at the deadline: a transaction already on record is still worth
            // pointing at (the retry is answered from the row); without one, the 503 stands.
            if (err instanceof DatabaseUnavailableError && seen.latestTx && !isDecided(seen)) return seen;
            throw err;
          });
    const answer = answerFromRow(latest, payer, network);
    // One payment, one delivery: the middleware serves the resource on success, so only one
    // request ever hears it. A retry after "settlement_pending" is that one; a replayed header
    // (or a concurrent copy) hears what the chain would say about a spent authorization. A
    // request carrying a payment identifier asked for idempotency instead: it hears the stored
    // answer every time (its id, not our once-only answer, is what its server dedupes on).
    const idempotent = paymentIdOf(req).id !== undefined;
    const first = answer.success && (await repo.takeSuccessAnswer(row.id));
    // The first success of a payment that moved money, once: what the catalog is fed with.
    if (first && answer.transaction) deps.onPaid?.(req, apiKeyId);
    if (answer.success && !first && !idempotent) {
      return {
        ...failure(
          deps.methods.forRow(row).settlement.usedReason,
          payer,
          network,
          "this payment was already settled and reported to an earlier request",
        ),
        transaction: answer.transaction,
      };
    }
    return answer;
  }

  /**
   * Screening refused a payment: when it is a genuine one (it verifies), it is recorded as a
   * rejected settlement naming the listed party, so operators see it; nothing is sent.
   */
  async function rejectScreened(req: FacilitatorRequest, refusal: Refusal, hash: string, apiKeyId?: string): Promise<void> {
    const method = deps.methods.forRequest(req);
    const verdict = await deps.verifier(req, { checkLedger: false, settling: true });
    if (!verdict.isValid) return;
    await repo.claim({
      ...method.ledgerEntry(req, deps.networks),
      payloadSha256: hash,
      x402Version: req.version,
      requestNetwork: req.paymentRequirements.network,
      apiKeyId,
      state: "rejected",
      errorReason: refusal.reason,
      errorMessage: `screening listed the ${refusal.screened}`,
    });
  }

  return async function settle(req: FacilitatorRequest, ctx: { apiKeyId?: string; policy?: KeyPolicy } = {}): Promise<SettleResponse> {
    const method = deps.methods.forRequest(req);
    const { payer, network, key } = method.facts(req, deps.networks);
    const hash = requestHash(req);

    // The client's own idempotency key first: the same id for another request is a conflict.
    const byId = await judgePaymentId(req, payer, () => hash, repo.findByPaymentId);
    if (byId.kind === "refused") return failure(byId.reason, payer, network, byId.message);
    if (byId.kind === "known") return answerClaimed(req, byId.row, hash, payer, network, ctx.apiKeyId);
    const paymentId = byId.kind === "new" ? byId.id : undefined;

    // A known payment is answered from the ledger, without touching the chain.
    const known = key && (await repo.findByKey(key));
    if (known) return answerClaimed(req, known, hash, payer, network, ctx.apiKeyId);

    const refused = await deps.guard?.check(req, { policy: ctx.policy, settling: true });
    if (refused) {
      if (refused.screened) await rejectScreened(req, refused, hash, ctx.apiKeyId);
      return failure(refused.reason, payer, network, refused.message);
    }

    const verdict = await deps.verifier(req, { checkLedger: false, settling: true });
    if (!verdict.isValid) {
      // A concurrent request may have claimed and spent this authorization while it was verified:
      // then the chain refuses it because it is paid, and the row, not the refusal, is the answer.
      const claimedMeanwhile = key && (await repo.findByKey(key));
      if (claimedMeanwhile) return answerClaimed(req, claimedMeanwhile, hash, payer, network, ctx.apiKeyId);
      return failure(verdict.invalidReason!, payer, network, verdict.invalidMessage);
    }
    if (deps.queueReady && !deps.queueReady())
      throw new QueueUnavailableError("the settlement queue (Redis) is unreachable; retry shortly");

    const entry = method.ledgerEntry(req, deps.networks);
    // A charge of 0 (upto) moves nothing: the row is settled as it is claimed, with no transaction,
    // and still holds the authorization so it cannot be charged again.
    const nothingToCharge = entry.chargedAmount === "0";
    const row = await repo.claim({
      ...entry,
      payloadSha256: hash,
      x402Version: req.version,
      requestNetwork: network,
      apiKeyId: ctx.apiKeyId,
      paymentId,
      // Born queued: the worker may take it the moment it exists, and a row whose job is lost
      // (Redis down) is enqueued again by the reconciler.
      ...(nothingToCharge ? { state: "confirmed" as const, settledBy: "self" as const } : { state: "queued" as const }),
    });
    if (!row) {
      const winner = await repo.findByKey({ chainId: entry.chainId, key: entry.paymentKey });
      if (winner) return answerClaimed(req, winner, hash, payer, network, ctx.apiKeyId);
      // Not this authorization: a concurrent request took the same payment id first.
      const raced = paymentId ? await judgePaymentId(req, payer, () => hash, repo.findByPaymentId) : undefined;
      if (raced?.kind === "refused") return failure(raced.reason, payer, network, raced.message);
      if (raced?.kind === "known") return answerClaimed(req, raced.row, hash, payer, network, ctx.apiKeyId);
      throw new Error("claim lost to a row that cannot be read back");
    }
    logger.info({ settlementId: row.id, payer: row.payer, network }, "settlement claimed");
    if (nothingToCharge) return answerClaimed(req, row, hash, payer, network, ctx.apiKeyId);
    try {
      await withDeadline(deps.enqueue(row.id), ENQUEUE_WAIT_MS, "enqueue");
      logger.debug({ settlementId: row.id }, "enqueued");
    } catch (err) {
      // The row is safe in Postgres; the worker's reconciler enqueues it when Redis is back.
      logger.warn({ err, settlementId: row.id }, "enqueue failed; left for the reconciler");
    }
    return answerClaimed(req, row, hash, payer, network, ctx.apiKeyId);
  };
}

export type SettleService = ReturnType<typeof createSettleService>;
