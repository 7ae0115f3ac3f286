// The x402 upto proxy at its canonical address, the parts of its ABI the facilitator calls, and
// the witness the payer signs for it: the exact witness plus the facilitator allowed to settle.
import { parseAbi } from "viem";
import { permitTypes } from "../../shared/permit2/contracts.js";

/** x402UptoPermit2Proxy: the spender every upto payment names. */
export const UPTO_PROXY = "0x4020A4f3b7b90ccA423B9fabCc0CE57C6C240002" as const;

export const uptoProxyAbi = parseAbi([
  "struct TokenPermissions { address token; uint256 amount; }",
  "struct PermitTransferFrom { TokenPermissions permitted; uint256 nonce; uint256 deadline; }",
  "struct Witness { address to; address facilitator; uint256 validAfter; }",
  "struct EIP2612Permit { uint256 value; uint256 deadline; bytes32 r; bytes32 s; uint8 v; }",
  "function settle(PermitTransferFrom permit, uint256 amount, address owner, Witness witness, bytes signature)",
  "function settleWithPermit(EIP2612Permit permit2612, PermitTransferFrom permit, uint256 amount, address owner, Witness witness, bytes signature)",
]);

export const uptoWitnessTypes = {
  ...permitTypes,
  Witness: [
    { name: "to", type: "address" },
    { name: "facilitator", type: "address" },
    { name: "validAfter", type: "uint256" },
  ],
} as const;
