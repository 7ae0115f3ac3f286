// What sets one Permit2 scheme apart from another: its proxy, its witness, the call that settles
// and who may send it. The verify steps, the ledger entry and the reading of outcomes are shared
// (verify.ts, method.ts, outcome.ts); `exact` and `upto` each describe themselves with one of these.
import type { Address, Hex } from "viem";
import type { FacilitatorRequest } from "../../../../x402/wire.js";
import type { Permit } from "./permit.js";
import type { Eip2612Permit } from "./sponsoring.js";

export interface Permit2Route {
  scheme: "exact" | "upto";
  /** The x402 proxy every payment of this scheme names as spender, and the relayer calls. */
  proxy: Address;
  /** The scheme's refusal of a v2 request's scheme fields (requirements and accepted), if any. */
  schemeProblem(req: FacilitatorRequest): string | undefined;
  /** The reason for accepted.network differing from the requirements'. */
  networkMismatch: string;
  /** Witness checks beyond the recipient (upto: the facilitator named must be one of ours). */
  witnessProblem?(p: Permit, relayers: () => Promise<readonly string[]>): Promise<string | undefined>;
  /** The EIP-712 digest the payer signed. */
  digest(p: Permit, chainId: number): Hex;
  /** The proxy call moving `amount` to the witness's recipient (settleWithPermit when sponsored). */
  settleCalldata(p: Permit, amount: bigint, signature: Hex, permit2612?: Eip2612Permit): Hex;
  /** Whether a call to the proxy (its calldata) settles this permit: finds who spent a nonce. */
  settles(input: Hex, p: Permit): boolean;
  /** The account the proxy must be called from, if it cares (upto: the witness's facilitator). */
  sender(p: Permit): Address | undefined;
  /**
   * Whether a payer wallet that does not exist yet (ERC-6492) may be deployed on the way. That
   * goes through Multicall3, so only a proxy that does not look at its caller allows it.
   */
  deploysWallets: boolean;
  /**
   * Set when the resource server names the charge at /settle (upto): the requirements' amount
   * is then the charge, at most the permitted amount, and more is refused with this reason.
   */
  chargeExceeds?: string;
}
