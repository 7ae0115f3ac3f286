// /verify and /settle hand each request to the verifier of the payment method that reads its
// payload (src/schemes); every method checks in the official order with the official reasons.
import { paymentMethods } from "../schemes/methods.js";
import type { AnyPaymentMethod, MethodRegistry, Verifier, VerifierDeps } from "../schemes/scheme.js";

export type { Verifier, VerifyOptions, VerifyOutcome } from "../schemes/scheme.js";

export function createVerifier(deps: VerifierDeps & { methods?: MethodRegistry }): Verifier {
  const methods = deps.methods ?? paymentMethods();
  const verifiers = new Map<AnyPaymentMethod, Verifier>();
  return (req, opts) => {
    const method = methods.forRequest(req);
    let verify = verifiers.get(method);
    if (!verify) verifiers.set(method, (verify = method.createVerifier(deps)));
    return verify(req, opts);
  };
}
