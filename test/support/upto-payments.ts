// Builders for `upto` payments as the official client sends them: a PermitWitnessTransferFrom for
// the upto proxy naming a facilitator, signed by the payer, in the v2 body a resource server posts
// to /verify (amount = the maximum) and, once it knows the charge, to /settle (amount = the charge).
import type { Address, Hex, LocalAccount } from "viem";
import { PERMIT2_ADDRESS, uptoPermit2WitnessTypes, X402_UPTO_PERMIT2_PROXY } from "../../src/devnet/permit2.js";
import { permit2Defaults, type Permit2SignedFields } from "./permit2-payments.js";

export interface UptoPaymentOptions extends Permit2SignedFields {
  payer: LocalAccount;
  facilitator: Address;
  token: { address: Address; name: string; version: string };
  /** The most the payer authorizes. */
  maximum: bigint;
  payTo: Address;
}

export async function uptoPayment(o: UptoPaymentOptions) {
  const { nonce, deadline, validAfter, spender } = permit2Defaults(o, X402_UPTO_PERMIT2_PROXY);
  const signature: Hex = await o.payer.signTypedData({
    domain: { name: "Permit2", chainId: o.chainId, verifyingContract: PERMIT2_ADDRESS },
    types: uptoPermit2WitnessTypes,
    primaryType: "PermitWitnessTransferFrom",
    message: {
      permitted: { token: o.token.address, amount: o.maximum },
      spender,
      nonce,
      deadline,
      witness: { to: o.payTo, facilitator: o.facilitator, validAfter },
    },
  });
  const accepted = {
    scheme: "upto",
    network: o.network ?? "eip155:84532",
    amount: o.maximum.toString(),
    asset: o.token.address,
    payTo: o.payTo,
    maxTimeoutSeconds: 300,
    extra: { name: o.token.name, version: o.token.version, assetTransferMethod: "permit2", facilitatorAddress: o.facilitator },
  };
  const paymentPayload = {
    x402Version: 2,
    resource: { url: "http://localhost/metered", description: "test", mimeType: "application/json" },
    accepted,
    payload: {
      signature,
      permit2Authorization: {
        from: o.payer.address,
        permitted: { token: o.token.address, amount: o.maximum.toString() },
        spender,
        nonce: nonce.toString(),
        deadline: deadline.toString(),
        witness: { to: o.payTo, facilitator: o.facilitator, validAfter: validAfter.toString() },
      },
    },
  };
  return {
    nonce,
    /** What /verify gets: the requirements as accepted (amount = the maximum). */
    verifyBody: { x402Version: 2, paymentPayload, paymentRequirements: accepted },
    /** What /settle gets once the server knows the charge: the same payload, the requirements' amount set to it. */
    settleBody: (charge: bigint) => ({ x402Version: 2, paymentPayload, paymentRequirements: { ...accepted, amount: charge.toString() } }),
  };
}
