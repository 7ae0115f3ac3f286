// `exact` through Permit2, for any ERC-20: the payer approves Permit2 once and then signs a
// PermitWitnessTransferFrom naming the x402 exact proxy, which the relayer calls to move the
// permitted amount to the witness's recipient. Permit2 keeps the nonce. The steps shared with
// `upto` live in ../../shared/permit2.
import { decodeFunctionData, encodeFunctionData, isAddressEqual, type Hex } from "viem";
import { Reason } from "../../../../x402/reasons.js";
import type { PaymentMethod } from "../../../scheme.js";
import { permit2Method } from "../../shared/permit2/method.js";
import { exactPermit2PayloadSchema } from "../../shared/permit2/payload.js";
import { permitDigest, type Permit } from "../../shared/permit2/permit.js";
import type { Permit2Route } from "../../shared/permit2/route.js";
import { EXACT_PROXY, exactProxyAbi, witnessTypes } from "./contracts.js";

export const exactRoute: Permit2Route = {
  scheme: "exact",
  proxy: EXACT_PROXY,
  schemeProblem(req) {
    if (req.paymentRequirements.scheme !== "exact") return Reason.unsupportedScheme;
    if (req.version === 2 && req.paymentPayload.accepted.scheme !== "exact") return Reason.unsupportedPayloadType;
    return undefined;
  },
  networkMismatch: Reason.networkMismatch,
  digest: (p, chainId) => permitDigest(p, chainId, EXACT_PROXY, witnessTypes),
  settleCalldata(p, _amount, signature, permit2612) {
    const common = [
      { permitted: { token: p.token, amount: p.amount }, nonce: p.nonce, deadline: p.deadline },
      p.owner,
      { to: p.to, validAfter: p.validAfter },
      signature,
    ] as const;
    return permit2612
      ? encodeFunctionData({ abi: exactProxyAbi, functionName: "settleWithPermit", args: [permit2612, ...common] })
      : encodeFunctionData({ abi: exactProxyAbi, functionName: "settle", args: common });
  },
  settles(input: Hex, p: Permit) {
    try {
      const call = decodeFunctionData({ abi: exactProxyAbi, data: input });
      // settleWithPermit carries the EIP-2612 permit first, then settle's arguments.
      const [permit, owner] = call.functionName === "settle" ? call.args : [call.args[1], call.args[2]];
      return permit.nonce === p.nonce && isAddressEqual(owner, p.owner);
    } catch {
      return false;
    }
  },
  // The exact proxy does not look at its caller: any relayer key, and Multicall3 too.
  sender: () => undefined,
  deploysWallets: true,
};

export const permit2Exact: PaymentMethod = permit2Method(exactRoute, {
  payloadSchema: exactPermit2PayloadSchema,
  kinds: (n) => [{ x402Version: 2, scheme: "exact", network: n.caip2 }],
});
