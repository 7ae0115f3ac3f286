// The official reasons of the upto checks, word for word, and ours for what only a facilitator
// with several relayer keys meets.
export const UptoReason = {
  scheme: "invalid_upto_evm_scheme",
  networkMismatch: "invalid_upto_evm_network_mismatch",
  facilitator: "upto_facilitator_mismatch",
  exceeds: "invalid_upto_evm_payload_settlement_exceeds_amount",
} as const;
