// The payment methods this facilitator serves. Adding one is a folder under src/schemes and a
// line here; the first answers payloads that no method reads, with its own reasons.
import { eip3009Exact } from "./evm/exact/eip3009/index.js";
import { permit2Exact } from "./evm/exact/permit2/index.js";
import { permit2Upto } from "./evm/upto/permit2/index.js";
import { createRegistry, type AnyPaymentMethod, type MethodRegistry } from "./scheme.js";
import { svmExact } from "./svm/exact/index.js";

export const PAYMENT_METHODS: readonly AnyPaymentMethod[] = [eip3009Exact, permit2Exact, permit2Upto, svmExact];

export const paymentMethods = (): MethodRegistry => createRegistry(PAYMENT_METHODS);
