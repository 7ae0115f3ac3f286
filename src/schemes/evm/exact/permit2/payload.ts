// The `exact` Permit2 payload on the wire: a PermitWitnessTransferFrom the payer signed for the
// exact proxy, typed strictly like every field the facilitator reads.
import { z } from "zod";
import { address, signatureHex, uint256 } from "../../../../x402/wire.js";

export const permit2AuthorizationSchema = z.strictObject({
  from: address,
  permitted: z.strictObject({ token: address, amount: uint256 }),
  spender: address,
  nonce: uint256,
  deadline: uint256,
  witness: z.strictObject({ to: address, validAfter: uint256 }),
});

export const permit2PayloadSchema = z.strictObject({ signature: signatureHex, permit2Authorization: permit2AuthorizationSchema });
export type Permit2Payload = z.infer<typeof permit2PayloadSchema>;
export type Permit2Authorization = Permit2Payload["permit2Authorization"];
