// The EIP-3009 payload on the wire: the signed authorization, typed strictly (exact hex lengths,
// canonical decimal uint256, no coercion), and its signature.
import { z } from "zod";
import { address, bytes32, signatureHex, uint256 } from "../../../../x402/wire.js";

export const authorizationSchema = z.strictObject({
  from: address,
  to: address,
  value: uint256,
  validAfter: uint256,
  validBefore: uint256,
  nonce: bytes32,
});

export const eip3009PayloadSchema = z.strictObject({ signature: signatureHex, authorization: authorizationSchema });
export type Eip3009Payload = z.infer<typeof eip3009PayloadSchema>;
