// The ledger key of a Permit2 payment: Permit2's nonces belong to the owner, whatever the token
// or proxy, so one nonce is one payment on its chain.
import type { PaymentKey } from "../../../../db/schema.js";
import { nonceHex, type Permit } from "./permit.js";

export const permit2Key = (chainId: number, p: Pick<Permit, "owner" | "nonce">): PaymentKey => ({
  chainId,
  key: `permit2:${p.owner.toLowerCase()}:${nonceHex(p.nonce)}`,
});
