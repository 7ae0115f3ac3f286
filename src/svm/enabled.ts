// Everything Solana a process needs, behind one import the composition roots make only when a
// cluster is enabled: @solana/kit and the program libraries load with it, not before.
export { svmExact } from "../schemes/svm/exact/index.js";
export { createSvmRpc } from "./rpc.js";
export { assertSvmClusters } from "./cluster-check.js";
export { feePayerFunds } from "./fee-payer-funds.js";
export { loadFeePayerKeys } from "./fee-payer-keys.js";
export { createSvmSettler, NoFeePayerError } from "../worker/svm-settler.js";
