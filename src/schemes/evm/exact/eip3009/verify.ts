// Verification of an EIP-3009 payment: local checks first (no I/O for an EOA), then one batched
// round of chain reads. An invalid payment is returned as a value; a chain or database that
// cannot answer throws, so an unknown outcome is never reported as valid.
import type { PublicClient } from "viem";
import { inlineRecovery } from "../../../../evm/recovery-threads.js";
import { classifySignature, parseEcdsa } from "../../../../evm/signature.js";
import { isValidErc1271, readDiagnostics, readPayerCode, readSimulation, simulateAlone } from "../../../../evm/payment-reads.js";
import { createTransferSimulator, type SimulateTransfer } from "../../../../evm/transfer-simulator.js";
import { toHex, transferAuthorizationDigest } from "../../../../evm/typed-data.js";
import { createExpiringSet } from "../../../../verify/expiring-set.js";
import { Reason, type ReasonCode } from "../../../../x402/reasons.js";
import type { Verifier, VerifierDeps, VerifyOutcome } from "../../../scheme.js";
import * as check from "./checks.js";
import { paymentKeyOf, toIntent } from "./intent.js";

const CODELESS_TTL_MS = 60_000;

export function createEip3009Verifier(deps: VerifierDeps): Verifier {
  const nowMs = deps.nowMs ?? Date.now;
  const recovery = deps.recovery ?? inlineRecovery;
  const deployedAssets = new Set<string>();
  // Payers seen without code skip eth_getCode for a while. Safe: the simulation runs the token's
  // own signature check, so a wallet that gained code since only changes which reason is named.
  const codelessPayers = createExpiringSet(CODELESS_TTL_MS, 100_000);
  const simulators = new Map<number, SimulateTransfer>();
  const simulatorFor = (chainId: number, client: PublicClient) => {
    let s = simulators.get(chainId);
    if (!s) simulators.set(chainId, (s = createTransferSimulator(client, simulateAlone(client))));
    return s;
  };

  return async function verify(req, opts) {
    const intent = toIntent(req, deps.networks);
    const invalid = (invalidReason: ReasonCode, extra: { invalidMessage?: string } = {}): VerifyOutcome => ({
      isValid: false,
      invalidReason,
      payer: intent.payer,
      ...extra,
    });

    const early = check.checkScheme(intent) ?? check.checkNetwork(intent) ?? check.checkPayloadType(intent);
    if (early) return invalid(early);
    const network = intent.network!;
    const asset = check.findAllowedAsset(intent);
    if (!asset) return invalid(Reason.assetNotAllowed);
    const auth = intent.authorization!;
    const client = deps.clientFor(network.chainId);
    const signature = classifySignature(intent.signature);

    // A mis-checksummed address cannot be EIP-712 encoded, so no signature over it can be valid.
    const malformed = check.checkAddressChecksums(intent);
    if (malformed) return invalid(malformed);
    // Signed over the domain the client named; checkDomain below compares it with the token's.
    const digest = transferAuthorizationDigest(
      { name: intent.extra.name!, version: intent.extra.version!, chainId: network.chainId, verifyingContract: intent.asset },
      auth,
    );
    // An ERC-6492 wrapper only matters for a wallet that does not exist yet; deploying it means
    // calling the factory the payer chose, so only allowlisted factories pass.
    let payerHasCode = signature.deployment ? await readPayerCode(client, auth.from) : undefined;
    const counterfactual = !!signature.deployment && !payerHasCode;
    // Pure checks, judged now but answered after the signature: the reference names a bad
    // signature before any of these.
    const local =
      check.checkRecipient(intent) ??
      check.checkTimeWindow(intent, BigInt(Math.floor(nowMs() / 1000))) ??
      check.checkAmount(intent) ??
      check.checkDomain(intent, asset);
    const ecdsa = counterfactual ? undefined : parseEcdsa(signature.inner);
    const recovering = ecdsa ? recovery.recover(digest, ecdsa) : undefined;
    // The ledger is asked while the signature is recovered (Postgres, never the chain); its
    // answer is only used once the signature has passed.
    const claimed = !local && opts.checkLedger ? deps.isClaimed(paymentKeyOf(network.chainId, intent.asset, auth)) : undefined;
    claimed?.catch(() => {});

    let recoveredPayer = false;
    let erc1271Checked = false;
    if (counterfactual) {
      const allowed = network.eip6492Factories.some((f) => check.sameAddress(f, signature.deployment!.factory));
      if (!allowed) return invalid(Reason.factoryNotAllowed);
      // The signature is checked by simulating deployment and transfer together.
    } else {
      const recovered = await recovering;
      recoveredPayer = !!recovered && check.sameAddress(recovered, auth.from);
      if (!recoveredPayer) {
        // Not the payer's ECDSA signature: only a contract wallet (ERC-1271) can still make it
        // valid, and only the chain can say whether the payer is one.
        payerHasCode ??= await readPayerCode(client, auth.from);
        if (!payerHasCode || !(await isValidErc1271(client, auth.from, toHex(digest), signature.inner)))
          return invalid(Reason.invalidSignature);
        erc1271Checked = true;
      }
    }

    if (local) return invalid(local);
    if (claimed && (await claimed)) return invalid(Reason.nonceAlreadyUsed);

    const assetKey = `${network.chainId}:${intent.asset.toLowerCase()}`;
    const payerKey = `${network.chainId}:${auth.from.toLowerCase()}`;
    if (payerHasCode === undefined && codelessPayers.has(payerKey)) payerHasCode = false;
    const state = await readSimulation(client, {
      asset: intent.asset,
      auth,
      signature: counterfactual ? signature : { inner: signature.inner },
      assetKnownDeployed: deployedAssets.has(assetKey),
      payerCodeKnown: payerHasCode !== undefined,
      blockTag: opts.blockTag,
      // Only a payer known to have no code may share a simulation (see transfer-simulator.ts).
      simulator: payerHasCode === false && network.multicallSimulation ? simulatorFor(network.chainId, client) : undefined,
    });
    if (!state.assetHasCode) return invalid(Reason.assetNotDeployed);
    deployedAssets.add(assetKey);
    payerHasCode ??= state.payerHasCode;
    if (payerHasCode === false) codelessPayers.remember(payerKey);
    // An address with code never validates by ECDSA on chain (ERC-7702 delegations included).
    if (recoveredPayer && payerHasCode && !erc1271Checked) {
      if (!(await isValidErc1271(client, auth.from, toHex(digest), signature.inner))) return invalid(Reason.invalidSignature);
    }
    if (!state.simulation.ok) {
      const why = await readDiagnostics(client, intent.asset, auth, opts.blockTag);
      return invalid(diagnoseSimulationFailure(why, BigInt(auth.value)), { invalidMessage: state.simulation.message });
    }
    return { isValid: true, payer: intent.payer };
  };
}

export function diagnoseSimulationFailure(state: { balance?: bigint; authorizationUsed?: boolean }, value: bigint): ReasonCode {
  if (state.authorizationUsed === undefined) return Reason.eip3009NotSupported;
  if (state.authorizationUsed) return Reason.nonceAlreadyUsed;
  if (state.balance !== undefined && state.balance < value) return Reason.insufficientBalance;
  return Reason.simulationFailed;
}
