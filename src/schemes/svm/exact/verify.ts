// Verification of a Solana `exact` payment, in the official facilitator's order with its
// reasons: request and fee payer first, then the transaction (decodes, signers, signatures,
// layout), the ledger, and last one simulation against the cluster. An invalid payment is a
// value; a cluster or database that cannot answer throws, so nothing unknown is called valid.
import { FacilitatorError, RpcUnavailableError } from "../../../errors.js";
import { Reason } from "../../../x402/reasons.js";
import { othersSigned } from "../../../svm/signatures.js";
import type { Verifier, VerifierDeps, VerifyOutcome } from "../../scheme.js";
import { svmPaymentKey, toSvmIntent } from "./intent.js";
import { checkLayout, decompiled } from "./layout.js";
import { SvmReason } from "./reasons.js";

export function createSvmExactVerifier(deps: VerifierDeps): Verifier {
  return async function verify(req, opts) {
    const intent = toSvmIntent(req, deps.networks);
    const invalid = (invalidReason: string, invalidMessage?: string): VerifyOutcome => ({
      isValid: false,
      invalidReason,
      payer: intent.payer,
      ...(invalidMessage ? { invalidMessage } : {}),
    });

    if (intent.payloadScheme !== "exact" || intent.requirementsScheme !== "exact") return invalid(SvmReason.unsupportedScheme);
    if (intent.payloadNetwork !== intent.requestNetwork) return invalid(SvmReason.networkMismatch);
    const network = intent.network;
    if (!network || !deps.svm) return invalid(Reason.invalidNetwork);
    if (!network.assets.some((a) => a.mint === intent.asset)) return invalid(Reason.assetNotAllowed);
    if (!intent.feePayer) return invalid(SvmReason.missingFeePayer);
    const feePayers = await deps.svm.feePayers();
    if (!feePayers.includes(intent.feePayer)) return invalid(SvmReason.feePayerNotManaged);

    const tx = intent.decoded;
    if (!tx) return invalid(SvmReason.couldNotBeDecoded);
    if ("addressTableLookups" in tx.message && tx.message.addressTableLookups?.length)
      return invalid(SvmReason.couldNotBeDecoded, "address lookup tables are not accepted");
    if (tx.message.header.numSignerAccounts > network.maxSigners)
      return invalid(SvmReason.excessiveSigners, `${tx.message.header.numSignerAccounts} signers; at most ${network.maxSigners}`);
    if (tx.message.staticAccounts[0] !== intent.feePayer) return invalid(SvmReason.feePayerMismatch);
    if (!othersSigned(tx)) return invalid(SvmReason.signatureInvalid);

    const instructions = decompiled(tx.message);
    if (!instructions) return invalid(SvmReason.couldNotBeDecoded);
    const layout = await checkLayout(instructions, {
      network,
      asset: intent.asset,
      payTo: intent.payTo,
      amount: intent.amount,
      memo: intent.memo,
      feePayers,
    });
    if ("reason" in layout) return invalid(layout.reason, layout.message);

    if (opts.checkLedger && (await deps.isClaimed(svmPaymentKey(network, tx)))) return invalid(SvmReason.duplicateSettlement);

    const simulation = await deps.svm
      .rpcFor(network)
      .simulateTransaction(intent.wire as Parameters<ReturnType<typeof deps.svm.rpcFor>["simulateTransaction"]>[0], {
        encoding: "base64",
        sigVerify: false,
        replaceRecentBlockhash: false,
        commitment: "confirmed",
      })
      .send()
      .catch((err: unknown) => {
        // A node that errors instead of simulating leaves the outcome unknown: never a verdict.
        throw err instanceof FacilitatorError ? err : new RpcUnavailableError(`Solana simulation: ${(err as Error).message}`, err);
      });
    if (simulation.value.err) return invalid(SvmReason.simulationFailed, `simulation failed: ${describeError(simulation.value.err)}`);
    return { isValid: true, payer: intent.payer };
  };
}

export const describeError = (err: unknown): string => JSON.stringify(err, (_, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
