// The official reasons of the Permit2 checks (exact and upto share them), word for word.
export const Permit2Reason = {
  spender: "invalid_permit2_spender",
  recipient: "invalid_permit2_recipient_mismatch",
  deadline: "permit2_deadline_expired",
  notYetValid: "permit2_not_yet_valid",
  amount: "permit2_amount_mismatch",
  token: "permit2_token_mismatch",
  signature: "invalid_permit2_signature",
  allowance: "permit2_allowance_required",
  simulation: "permit2_simulation_failed",
  balance: "permit2_insufficient_balance",
  proxyMissing: "permit2_proxy_not_deployed",
  nonce: "permit2_invalid_nonce",
} as const;
