// Reason strings, identical to the official x402 EVM facilitator's so resource servers and
// their logs see the same words whichever facilitator answered. The ones marked "ours" have no
// counterpart there (the reference throws or does not check).
export const Reason = {
  invalidScheme: "invalid_exact_evm_scheme",
  networkMismatch: "invalid_exact_evm_network_mismatch",
  missingEip712Domain: "invalid_exact_evm_missing_eip712_domain",
  recipientMismatch: "invalid_exact_evm_recipient_mismatch",
  invalidSignature: "invalid_exact_evm_signature",
  validBefore: "invalid_exact_evm_payload_authorization_valid_before",
  validAfter: "invalid_exact_evm_payload_authorization_valid_after",
  /** v1 value check. */
  authorizationValue: "invalid_exact_evm_authorization_value",
  /** v2 value check. */
  authorizationValueMismatch: "invalid_exact_evm_payload_authorization_value_mismatch",
  tokenNameMismatch: "invalid_exact_evm_token_name_mismatch",
  tokenVersionMismatch: "invalid_exact_evm_token_version_mismatch",
  eip3009NotSupported: "invalid_exact_evm_eip3009_not_supported",
  nonceAlreadyUsed: "invalid_exact_evm_nonce_already_used",
  insufficientBalance: "invalid_exact_evm_insufficient_balance",
  simulationFailed: "invalid_exact_evm_transaction_simulation_failed",
  transactionFailed: "invalid_exact_evm_transaction_failed",
  transferEventMismatch: "invalid_exact_evm_transfer_event_mismatch",
  assetNotDeployed: "asset_not_deployed_contract",
  unsupportedPayloadType: "unsupported_payload_type",
  factoryNotAllowed: "eip6492_factory_not_allowed",
  settlementPending: "settlement_pending",
  // ours: the reference throws (HTTP 500) where these answer
  unsupportedScheme: "unsupported_scheme",
  invalidNetwork: "invalid_network",
  // ours: the asset is not on this network's allowlist
  assetNotAllowed: "asset_not_allowed",
  // ours: request body failed validation (sent with HTTP 400)
  invalidPayload: "invalid_payload",
  // ours: the relayer a payment must be sent from (upto's facilitator) is drained or gone
  namedRelayerUnavailable: "named_relayer_unavailable",
} as const;

export type ReasonCode = (typeof Reason)[keyof typeof Reason];
