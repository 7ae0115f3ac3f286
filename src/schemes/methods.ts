// The payment methods this facilitator serves. Adding one is a folder under src/schemes and a
// line here; the first answers payloads that no method reads, with its own reasons. Solana's is
// loaded only where a cluster is enabled (src/svm/enabled.ts): its libraries cost an EVM-only
// process memory for nothing.
import { eip3009Exact } from "./evm/exact/eip3009/index.js";
import { permit2Exact } from "./evm/exact/permit2/index.js";
import { permit2Upto } from "./evm/upto/permit2/index.js";
import { createRegistry, type MethodRegistry, type PaymentMethod, type SvmPaymentMethod } from "./scheme.js";
import { svmExactPayloadSchema } from "./svm/exact/payload.js";

export const EVM_PAYMENT_METHODS: readonly PaymentMethod[] = [eip3009Exact, permit2Exact, permit2Upto];

/** Every payload any method reads, for the OpenAPI document (no Solana library needed for it). */
export const PAYLOAD_SCHEMAS = [...EVM_PAYMENT_METHODS, { payloadSchema: svmExactPayloadSchema }];

export const paymentMethods = (svm: readonly SvmPaymentMethod[] = []): MethodRegistry => createRegistry([...EVM_PAYMENT_METHODS, ...svm]);
