// Verification of a Permit2 payment, for whichever scheme's proxy (route.ts), in the official
// order with the official reasons: the request's own fields first (no I/O), then the token's code
// and the payer's signature, the ledger, and one simulation of the proxy's settle (diagnosed on
// failure).
import { hexToBytes, isAddressEqual, type Hex, type PublicClient } from "viem";
import type { EnabledNetwork } from "../../../../config/config.js";
import { inlineRecovery } from "../../../../evm/recovery-threads.js";
import { attempt, isValidCounterfactual, isValidErc1271, readPayerCode } from "../../../../evm/payment-reads.js";
import { classifySignature, type EcdsaParts } from "../../../../evm/signature.js";
import { createExpiringSet } from "../../../../verify/expiring-set.js";
import { Reason } from "../../../../x402/reasons.js";
import type { FacilitatorRequest } from "../../../../x402/wire.js";
import { VALID_BEFORE_MARGIN_S, type Verifier, type VerifierDeps, type VerifyOutcome } from "../../../scheme.js";
import { allowsMethod } from "../assets.js";
import { permit2Key } from "./key.js";
import type { Permit2Payload } from "./payload.js";
import { diagnose, permitOf, simulateSettle } from "./permit.js";
import { Permit2Reason } from "./reasons.js";
import type { Permit2Route } from "./route.js";
import { eip2612Info, eip2612Problem, splitPermit } from "./sponsoring.js";

const CODELESS_TTL_MS = 60_000;

/** Permit2 checks a 65-byte signature with ecrecover (any s), v being 27 or 28. */
function ecdsaParts(signature: Hex): EcdsaParts | undefined {
  if (signature.length !== 132) return undefined;
  const v = parseInt(signature.slice(130, 132), 16);
  if (v !== 27 && v !== 28) return undefined;
  return { r: `0x${signature.slice(2, 66)}`, s: `0x${signature.slice(66, 130)}`, v };
}

/** Where the request points: its enabled network, or undefined. */
export function networkOf(req: FacilitatorRequest, deps: Pick<VerifierDeps, "networks">): EnabledNetwork | undefined {
  return req.version === 2 ? deps.networks.byCaip2(req.paymentRequirements.network) : undefined;
}

export function createPermit2Verifier(route: Permit2Route, deps: VerifierDeps): Verifier {
  const nowMs = deps.nowMs ?? Date.now;
  const recovery = deps.recovery ?? inlineRecovery;
  const relayers = deps.relayerAddresses ?? (async () => []);
  const deployedAssets = new Set<string>();
  // Payers seen without code skip eth_getCode for a while. Safe: the simulation runs Permit2's own
  // signature check, so a wallet that gained code since only changes which reason is named.
  const codelessPayers = createExpiringSet(CODELESS_TTL_MS, 100_000);

  async function assetHasCode(client: PublicClient, chainId: number, asset: Hex): Promise<boolean> {
    const key = `${chainId}:${asset.toLowerCase()}`;
    if (deployedAssets.has(key)) return true;
    const code = await attempt("getCode(asset)", () => client.getCode({ address: asset }));
    const deployed = code.ok && !!code.value && code.value !== "0x";
    if (deployed) deployedAssets.add(key);
    return deployed;
  }

  async function signedByPayer(client: PublicClient, chainId: number, digest: Hex, payer: Hex, signature: Hex): Promise<boolean> {
    // As Permit2 itself decides: a payer with code answers through ERC-1271, anyone else by ecrecover.
    const payerKey = `${chainId}:${payer.toLowerCase()}`;
    if (!codelessPayers.has(payerKey)) {
      if (await readPayerCode(client, payer)) return isValidErc1271(client, payer, digest, signature);
      codelessPayers.remember(payerKey);
    }
    const parts = ecdsaParts(signature);
    const signer = parts && (await recovery.recover(hexToBytes(digest), parts));
    return !!signer && isAddressEqual(signer, payer);
  }

  return async function verify(req, opts): Promise<VerifyOutcome> {
    const payload = req.paymentPayload.payload as Permit2Payload;
    const auth = payload.permit2Authorization;
    const payer = auth.from;
    const invalid = (invalidReason: string): VerifyOutcome => ({ isValid: false, invalidReason, payer });
    // Permit2 is a v2 method: a v1 client never signs one.
    if (req.version !== 2) return invalid(Reason.unsupportedPayloadType);
    const requirements = req.paymentRequirements;
    const schemeProblem = route.schemeProblem(req);
    if (schemeProblem) return invalid(schemeProblem);
    const network = networkOf(req, deps);
    if (!network) return invalid(Reason.invalidNetwork);
    if (req.paymentPayload.accepted.network !== requirements.network) return invalid(route.networkMismatch);
    const asset = network.assets.find((a) => isAddressEqual(a.address, requirements.asset));
    if (!asset || !allowsMethod(asset, "permit2")) return invalid(Reason.assetNotAllowed);

    const permit = permitOf(auth);
    // At /settle a charging scheme's requirements name the charge; the permit is checked whole.
    const charging = !!route.chargeExceeds && !!opts.settling;
    const amount = charging ? permit.amount : BigInt(requirements.amount);
    const now = BigInt(Math.floor(nowMs() / 1000));
    if (!isAddressEqual(auth.spender, route.proxy)) return invalid(Permit2Reason.spender);
    if (!isAddressEqual(auth.witness.to, requirements.payTo)) return invalid(Permit2Reason.recipient);
    const witnessProblem = await route.witnessProblem?.(permit, relayers);
    if (witnessProblem) return invalid(witnessProblem);
    if (permit.deadline < now + VALID_BEFORE_MARGIN_S) return invalid(Permit2Reason.deadline);
    if (permit.validAfter > now) return invalid(Permit2Reason.notYetValid);
    if (permit.amount !== amount) return invalid(Permit2Reason.amount);
    if (!isAddressEqual(permit.token, requirements.asset)) return invalid(Permit2Reason.token);

    const client = deps.clientFor(network.chainId);
    const digest = route.digest(permit, network.chainId);
    const claimed = opts.checkLedger ? deps.isClaimed(permit2Key(network.chainId, permit)) : undefined;
    claimed?.catch(() => {});
    if (!(await assetHasCode(client, network.chainId, permit.token))) return invalid(Reason.assetNotDeployed);
    // An ERC-6492 wrapper matters only while the wallet does not exist: the relayer then deploys it
    // through the payer's chosen factory, so only allowlisted factories pass.
    const signature = classifySignature(payload.signature);
    const counterfactual = !!signature.deployment && !(await readPayerCode(client, permit.owner));
    if (counterfactual) {
      // A proxy that checks its caller cannot be reached through the deploying Multicall3.
      if (!route.deploysWallets) return invalid(Permit2Reason.signature);
      if (!network.eip6492Factories.some((f) => isAddressEqual(f, signature.deployment!.factory))) return invalid(Reason.factoryNotAllowed);
      if (!(await isValidCounterfactual(client, permit.owner, digest, payload.signature))) return invalid(Permit2Reason.signature);
    } else if (!(await signedByPayer(client, network.chainId, digest, permit.owner, signature.inner))) {
      return invalid(Permit2Reason.signature);
    }
    if (claimed && (await claimed)) return invalid(Permit2Reason.nonce);

    // A payer who has not approved Permit2 may bring an EIP-2612 permit: the settle submits it.
    const sponsoring = eip2612Info(req);
    const problem = sponsoring && eip2612Problem(sponsoring, permit.owner, permit.token, now + VALID_BEFORE_MARGIN_S);
    if (problem) return invalid(problem);
    const permit2612 = sponsoring ? splitPermit(sponsoring) : undefined;
    // Simulated with the whole permitted amount: what the payer authorized must be payable.
    const sent = counterfactual ? signature : { inner: signature.inner };
    const simulation = await simulateSettle(client, route, permit, permit.amount, sent, opts.blockTag, permit2612);
    if (!simulation.ok) return invalid(await diagnose(client, route.proxy, permit, permit.amount, counterfactual));
    if (charging && BigInt(requirements.amount) > permit.amount) return invalid(route.chargeExceeds!);
    return { isValid: true, payer };
  };
}
