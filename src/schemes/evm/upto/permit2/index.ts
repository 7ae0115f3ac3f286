// `upto` through Permit2: the payer authorizes a maximum for the x402 upto proxy, naming one of
// our relayer keys as the only facilitator allowed to settle it; the resource server serves, then
// names the charge at /settle (at most the maximum; 0 moves nothing). The proxy checks its caller,
// so the worker sends each settlement from exactly that key, never through Multicall3. The steps
// shared with `exact` live in ../../shared/permit2.
import { decodeFunctionData, encodeFunctionData, getAddress, isAddressEqual, type Hex } from "viem";
import type { PaymentMethod } from "../../../scheme.js";
import { permit2Method } from "../../shared/permit2/method.js";
import { uptoPermit2PayloadSchema } from "../../shared/permit2/payload.js";
import { permitDigest, type Permit } from "../../shared/permit2/permit.js";
import type { Permit2Route } from "../../shared/permit2/route.js";
import { UPTO_PROXY, uptoProxyAbi, uptoWitnessTypes } from "./contracts.js";
import { UptoReason } from "./reasons.js";

const witnessOf = (p: Permit) => ({ to: p.to, facilitator: p.facilitator!, validAfter: p.validAfter });

export const uptoRoute: Permit2Route = {
  scheme: "upto",
  proxy: UPTO_PROXY,
  schemeProblem: (req) =>
    req.paymentRequirements.scheme !== "upto" || (req.version === 2 && req.paymentPayload.accepted.scheme !== "upto")
      ? UptoReason.scheme
      : undefined,
  networkMismatch: UptoReason.networkMismatch,
  async witnessProblem(p, relayers) {
    const ours = await relayers();
    return p.facilitator && ours.some((a) => isAddressEqual(a as Hex, p.facilitator!)) ? undefined : UptoReason.facilitator;
  },
  digest: (p, chainId) => permitDigest(p, chainId, UPTO_PROXY, uptoWitnessTypes),
  settleCalldata(p, amount, signature, permit2612) {
    const common = [
      { permitted: { token: p.token, amount: p.amount }, nonce: p.nonce, deadline: p.deadline },
      amount,
      p.owner,
      witnessOf(p),
      signature,
    ] as const;
    return permit2612
      ? encodeFunctionData({ abi: uptoProxyAbi, functionName: "settleWithPermit", args: [permit2612, ...common] })
      : encodeFunctionData({ abi: uptoProxyAbi, functionName: "settle", args: common });
  },
  settles(input: Hex, p: Permit) {
    try {
      const call = decodeFunctionData({ abi: uptoProxyAbi, data: input });
      const [permit, , owner] = call.functionName === "settle" ? call.args : [call.args[1], call.args[2], call.args[3]];
      return permit.nonce === p.nonce && isAddressEqual(owner, p.owner);
    } catch {
      return false;
    }
  },
  sender: (p) => p.facilitator,
  deploysWallets: false,
  chargeExceeds: UptoReason.exceeds,
};

export const permit2Upto: PaymentMethod = permit2Method(uptoRoute, {
  payloadSchema: uptoPermit2PayloadSchema,
  // The server copies facilitatorAddress into its requirements and the client signs it: without
  // a known relayer key there is nothing to name yet, so no kind.
  kinds: (n, relayers) =>
    relayers.length ? [{ x402Version: 2, scheme: "upto", network: n.caip2, extra: { facilitatorAddress: getAddress(relayers[0]!) } }] : [],
});
