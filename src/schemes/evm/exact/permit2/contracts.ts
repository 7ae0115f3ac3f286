// The x402 exact proxy at its canonical address, the parts of its ABI the facilitator calls, and
// the witness the payer signs for it.
import { parseAbi } from "viem";
import { permitTypes } from "../../shared/permit2/contracts.js";

/** x402ExactPermit2Proxy: the spender every exact Permit2 payment names. */
export const EXACT_PROXY = "0x402085c248EeA27D92E8b30b2C58ed07f9E20001" as const;

export const exactProxyAbi = parseAbi([
  "struct TokenPermissions { address token; uint256 amount; }",
  "struct PermitTransferFrom { TokenPermissions permitted; uint256 nonce; uint256 deadline; }",
  "struct Witness { address to; uint256 validAfter; }",
  "struct EIP2612Permit { uint256 value; uint256 deadline; bytes32 r; bytes32 s; uint8 v; }",
  "function settle(PermitTransferFrom permit, address owner, Witness witness, bytes signature)",
  "function settleWithPermit(EIP2612Permit permit2612, PermitTransferFrom permit, address owner, Witness witness, bytes signature)",
]);

/** EIP-712 of the payer's signature: Permit2's domain has no version. */
export const witnessTypes = {
  ...permitTypes,
  Witness: [
    { name: "to", type: "address" },
    { name: "validAfter", type: "uint256" },
  ],
} as const;
