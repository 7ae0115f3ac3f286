// What a request must get past before the facilitator works for it (no RPC is spent on a request
// refused here): the key's policy, the key's gas budget (settle), the payer's failure budget, and
// address screening. A refusal carries an x402-style reason naming the rule, so the official
// middleware answers the buyer 402, never 5xx; each one is logged with the rule and key id.
import type { Logger } from "pino";
import type { NetworkLookup } from "../config/config.js";
import type { MethodRegistry } from "../schemes/scheme.js";
import type { FacilitatorRequest } from "../x402/wire.js";
import type { KeyPolicy } from "./api-keys.js";
import { BUDGET_REASON, type FailureBudget } from "./failure-budget.js";
import { PolicyReason, policyProblem } from "./rules.js";
import { ScreeningReason, type Screening } from "./screening.js";

export interface Refusal {
  reason: string;
  message: string;
  /** Set when screening refused it: which party was listed. */
  screened?: "payer" | "payTo";
}

export interface GuardDeps {
  networks: NetworkLookup;
  methods: Pick<MethodRegistry, "forRequest">;
  logger: Logger;
  failures?: FailureBudget;
  screening?: Screening;
  /** Wei a key has spent on gas today (UTC). */
  gasSpentToday?: (keyId: string) => Promise<bigint>;
}

/** Reasons that are not the payer's doing, so they never count against its failure budget. */
const NOT_THE_PAYERS = /^(policy_|screening_|payer_failure_|settlement_pending$|duplicate_settlement$|invalid_payload$)/;

export function createGuard(deps: GuardDeps) {
  const refuse = (req: FacilitatorRequest, keyId: string | undefined, r: Refusal): Refusal => {
    deps.logger.info({ rule: r.reason, keyId, network: req.paymentRequirements.network }, "request refused by policy");
    return r;
  };

  return {
    payerOf: (req: FacilitatorRequest) => deps.methods.forRequest(req).facts(req, deps.networks).payer,

    async check(req: FacilitatorRequest, o: { policy?: KeyPolicy; settling: boolean }): Promise<Refusal | undefined> {
      const keyId = o.policy?.id;
      const rule = o.policy && policyProblem(o.policy, req, deps.networks);
      if (rule) return refuse(req, keyId, { reason: rule, message: `the API key's policy does not allow this payment (${rule})` });
      const budget = o.settling && o.policy?.dailyGasBudgetWei;
      if (budget && deps.gasSpentToday && (await deps.gasSpentToday(keyId!)) >= BigInt(budget))
        return refuse(req, keyId, { reason: PolicyReason.gasBudget, message: "the API key's gas budget for today (UTC) is spent" });
      // Only the budget and screening need the payer: nothing more is read on /verify's hot path otherwise.
      if (!deps.failures && !deps.screening) return undefined;
      const payer = this.payerOf(req);
      const wait = deps.failures && payer ? await deps.failures.exhausted(payer) : undefined;
      if (wait !== undefined)
        return refuse(req, keyId, { reason: BUDGET_REASON, message: `too many failed payments from this payer; retry in ${wait} s` });
      if (deps.screening) {
        const verdict = await deps.screening.check({
          payer,
          payTo: req.paymentRequirements.payTo,
          network: req.paymentRequirements.network,
        });
        if (verdict === "unavailable")
          return refuse(req, keyId, { reason: ScreeningReason.unavailable, message: "address screening could not be completed" });
        if (verdict)
          return refuse(req, keyId, {
            reason: ScreeningReason[verdict.party],
            message: `the ${verdict.party} address is refused by screening`,
            screened: verdict.party,
          });
      }
      return undefined;
    },

    /** A verify or settle that failed through the payer's own payment counts against its budget. */
    charge(payer: string | undefined, reason: string | undefined): void {
      if (payer && reason && !NOT_THE_PAYERS.test(reason)) deps.failures?.charge(payer, reason);
    },
  };
}

export type Guard = ReturnType<typeof createGuard>;
