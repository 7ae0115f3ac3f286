// The payment methods this facilitator serves. Adding one is a folder under src/schemes and a
// line here; the first answers payloads that no method reads, with its own reasons.
import { eip3009Exact } from "./evm/exact/eip3009/index.js";
import { permit2Exact } from "./evm/exact/permit2/index.js";
import { permit2Upto } from "./evm/upto/permit2/index.js";
import { createRegistry, type MethodRegistry, type PaymentMethod } from "./scheme.js";

export const PAYMENT_METHODS: readonly PaymentMethod[] = [eip3009Exact, permit2Exact, permit2Upto];

export const paymentMethods = (): MethodRegistry => createRegistry(PAYMENT_METHODS);
