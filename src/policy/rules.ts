// A payment against its key's policy: which rule it breaks, if any, judged from the request alone
// (no RPC, no database), so a key cannot make the facilitator work for a payment it may not ask for.
import type { NetworkLookup } from "../config/config.js";
import type { FacilitatorRequest } from "../x402/wire.js";
import type { KeyPolicy } from "./api-keys.js";

export const PolicyReason = {
  payTo: "policy_payto_not_allowed",
  network: "policy_network_not_allowed",
  asset: "policy_asset_not_allowed",
  amount: "policy_amount_above_limit",
  gasBudget: "policy_gas_budget_spent",
} as const;

export function policyProblem(policy: KeyPolicy, req: FacilitatorRequest, networks: NetworkLookup): string | undefined {
  const r = req.paymentRequirements;
  if (policy.networks) {
    // A key may name a network either way: its CAIP-2 id or its v1 name.
    const net = networks.byCaip2(r.network) ?? networks.byV1Name(r.network);
    const names = net ? [net.caip2, net.name, r.network] : [r.network];
    if (!policy.networks.some((n) => names.includes(n))) return PolicyReason.network;
  }
  if (policy.assets && !policy.assets.includes(r.asset.toLowerCase())) return PolicyReason.asset;
  if (policy.payTo && !policy.payTo.includes(r.payTo.toLowerCase())) return PolicyReason.payTo;
  if (policy.maxAmount !== undefined) {
    const amount = req.version === 2 ? req.paymentRequirements.amount : req.paymentRequirements.maxAmountRequired;
    if (BigInt(amount) > BigInt(policy.maxAmount)) return PolicyReason.amount;
  }
  return undefined;
}
