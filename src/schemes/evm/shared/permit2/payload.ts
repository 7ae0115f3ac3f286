// Permit2 payloads on the wire: a PermitWitnessTransferFrom the payer signed for an x402 proxy,
// typed strictly like every field the facilitator reads. The schemes differ only in the witness:
// upto adds the facilitator allowed to settle.
import { z } from "zod";
import { address, signatureHex, uint256 } from "../../../../x402/wire.js";

const authorization = <W extends z.ZodRawShape>(witness: W) =>
  z.strictObject({
    from: address,
    permitted: z.strictObject({ token: address, amount: uint256 }),
    spender: address,
    nonce: uint256,
    deadline: uint256,
    witness: z.strictObject(witness),
  });

export const exactPermit2PayloadSchema = z.strictObject({
  signature: signatureHex,
  permit2Authorization: authorization({ to: address, validAfter: uint256 }),
});

export const uptoPermit2PayloadSchema = z.strictObject({
  signature: signatureHex,
  permit2Authorization: authorization({ to: address, facilitator: address, validAfter: uint256 }),
});

/** Either scheme's payload; `witness.facilitator` is present exactly for upto. */
export type Permit2Payload = z.infer<typeof exactPermit2PayloadSchema> & {
  permit2Authorization: { witness: { facilitator?: string } };
};
export type Permit2Authorization = Permit2Payload["permit2Authorization"];
