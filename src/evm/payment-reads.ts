// The chain reads behind a verify, issued together so the batching transport sends them in one
// round trip. A revert is an answer (the payment is invalid); any other failure means the chain
// could not be asked, and throws RpcUnavailableError so nobody mistakes it for a verdict.
import {
  BaseError,
  ContractFunctionRevertedError,
  decodeFunctionResult,
  encodeDeployData,
  encodeFunctionData,
  erc6492SignatureValidatorAbi,
  erc6492SignatureValidatorByteCode,
  ExecutionRevertedError,
  toFunctionSelector,
  type Address,
  type Hex,
  type PublicClient,
} from "viem";
import { RpcUnavailableError } from "../errors.js";
import { hexWord, uintWord } from "./abi-words.js";
import type { Authorization } from "./typed-data.js";
import { erc1271Abi, ERC1271_MAGIC, fiatTokenAbi } from "./fiat-token-abi.js";
import { MULTICALL3, tryAggregateAbi } from "./multicall.js";
import type { ClassifiedSignature } from "./signature.js";
import type { Outcome, SimulateTransfer } from "./transfer-simulator.js";

export function isRevert(err: unknown): boolean {
  if (!(err instanceof BaseError)) return false;
  return !!err.walk((e) => e instanceof ExecutionRevertedError || e instanceof ContractFunctionRevertedError);
}

export function revertMessage(err: unknown): string {
  return err instanceof BaseError ? err.shortMessage : String(err);
}

/** Calldata of the exact transferWithAuthorization the relayer would send. */
// Each overload on its own, so encoding skips viem's search for the overload that fits.
type TransferItem = Extract<(typeof fiatTokenAbi)[number], { name: "transferWithAuthorization" }>;
const transferItems = fiatTokenAbi.filter((x): x is TransferItem => x.type === "function" && x.name === "transferWithAuthorization");
const transferVrs = transferItems.find((x) => x.inputs.length === 9)!;
const transferBytes = transferItems.find((x) => x.inputs.length === 7)!;
const VRS_SELECTOR = toFunctionSelector(transferVrs).slice(2);

export function transferCalldata(auth: Authorization, signature: Hex): Hex {
  if (signature.length === 132) {
    // The hot path of every verify: nine static words, laid out by hand (the unit test holds
    // it to viem's encoder). Inputs are schema-checked hex and canonical decimals.
    return `0x${VRS_SELECTOR}${hexWord(auth.from.slice(2))}${hexWord(auth.to.slice(2))}${uintWord(auth.value)}${uintWord(auth.validAfter)}${uintWord(
      auth.validBefore,
    )}${auth.nonce.slice(2)}${hexWord(signature.slice(130, 132))}${signature.slice(2, 66)}${signature.slice(66, 130)}`.toLowerCase() as Hex;
  }
  const args = [auth.from, auth.to, BigInt(auth.value), BigInt(auth.validAfter), BigInt(auth.validBefore), auth.nonce] as const;
  return encodeFunctionData({ abi: [transferBytes], functionName: "transferWithAuthorization", args: [...args, signature] } as never);
}

/** Runs a chain read: a revert is an answer (ok: false), any other failure throws RpcUnavailableError. */
export async function attempt<T>(what: string, run: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await run() };
  } catch (err) {
    // Undecodable return data is the contract's answer too (e.g. no code at the address).
    if (isRevert(err) || (err instanceof BaseError && err.name.startsWith("AbiDecoding")))
      return { ok: false, message: revertMessage(err) };
    throw new RpcUnavailableError(`${what}: ${revertMessage(err)}`, err);
  }
}

export interface SimulationState {
  /** undefined when the caller already knew (and skipped asking) */
  payerHasCode?: boolean;
  assetHasCode: boolean;
  simulation: Outcome<true>;
}

export interface Diagnostics {
  /** undefined when balanceOf reverted */
  balance?: bigint;
  /** undefined when authorizationState reverted (the token lacks EIP-3009) */
  authorizationUsed?: boolean;
}

export type PaymentChainState = SimulationState & Diagnostics;

export interface ReadPaymentStateParams {
  asset: Address;
  auth: Authorization;
  signature: ClassifiedSignature;
  /** Skip eth_getCode(asset) when an earlier read already saw code there. */
  assetKnownDeployed: boolean;
  /** Skip eth_getCode(payer) when the caller already knows the answer. */
  payerCodeKnown?: boolean;
  blockTag?: "latest" | "pending";
  /** Runs the plain transfer's simulation (e.g. coalesced with others); absent: a lone eth_call. */
  simulator?: SimulateTransfer;
}

/** One transfer simulated by itself: a revert is the answer, anything else throws. */
export const simulateAlone =
  (client: PublicClient): SimulateTransfer =>
  (s) =>
    attempt("simulate transferWithAuthorization", () =>
      client.call({ to: s.asset, data: s.calldata, blockTag: s.blockTag }).then(() => true as const),
    );

const hasCode = (o: Outcome<Hex | undefined>) => o.ok && !!o.value && o.value !== "0x";

/**
 * The happy path of a verify: the exact transfer simulated, plus whatever code checks are
 * still needed, in one round trip. Balance and nonce state are only read to explain a failure.
 */
export async function readSimulation(client: PublicClient, p: ReadPaymentStateParams): Promise<SimulationState> {
  const { asset, auth, signature, blockTag = "latest" } = p;
  const call = (to: Address, data: Hex) => client.call({ to, data, blockTag }).then((r) => r.data ?? "0x");
  const simulate = async (): Promise<true> => {
    const transfer = transferCalldata(auth, signature.inner);
    if (!signature.deployment) {
      await call(asset, transfer);
      return true;
    }
    // Counterfactual wallet: deploy and transfer in one simulated call, as settle will.
    const data = encodeFunctionData({
      abi: tryAggregateAbi,
      functionName: "tryAggregate",
      args: [
        false,
        [
          { target: signature.deployment.factory, callData: signature.deployment.calldata },
          { target: asset, callData: transfer },
        ],
      ],
    });
    const results = decodeFunctionResult({ abi: tryAggregateAbi, functionName: "tryAggregate", data: await call(MULTICALL3, data) });
    if (!results[1]?.success) throw new ContractFunctionRevertedError({ abi: fiatTokenAbi, functionName: "transferWithAuthorization" });
    return true;
  };
  const [payerCode, assetCode, simulation] = await Promise.all([
    p.payerCodeKnown ? undefined : attempt("getCode(payer)", () => client.getCode({ address: auth.from, blockTag })),
    p.assetKnownDeployed
      ? ({ ok: true, value: "0x01" } as const)
      : attempt("getCode(asset)", () => client.getCode({ address: asset, blockTag })),
    p.simulator && !signature.deployment
      ? p.simulator({ asset, from: auth.from, to: auth.to, calldata: transferCalldata(auth, signature.inner), blockTag })
      : attempt("simulate transferWithAuthorization", simulate),
  ]);
  return { payerHasCode: payerCode && hasCode(payerCode), assetHasCode: hasCode(assetCode), simulation };
}

/** Balance and nonce state, read together to name why a simulation failed. */
export async function readDiagnostics(
  client: PublicClient,
  asset: Address,
  auth: Authorization,
  blockTag: "latest" | "pending" = "latest",
): Promise<Diagnostics> {
  const read = <T>(fn: "balanceOf" | "authorizationState", args: readonly unknown[]) =>
    client
      .call({ to: asset, data: encodeFunctionData({ abi: fiatTokenAbi, functionName: fn, args } as never), blockTag })
      .then((r) => decodeFunctionResult({ abi: fiatTokenAbi, functionName: fn, data: r.data ?? "0x" }) as T);
  const [balance, used] = await Promise.all([
    attempt("balanceOf", () => read<bigint>("balanceOf", [auth.from])),
    attempt("authorizationState", () => read<boolean>("authorizationState", [auth.from, auth.nonce])),
  ]);
  return { balance: balance.ok ? balance.value : undefined, authorizationUsed: used.ok ? used.value : undefined };
}

export async function readPaymentState(client: PublicClient, p: ReadPaymentStateParams): Promise<PaymentChainState> {
  const [simulation, diagnostics] = await Promise.all([readSimulation(client, p), readDiagnostics(client, p.asset, p.auth, p.blockTag)]);
  return { ...simulation, ...diagnostics };
}

/** Whether the authorization is spent on chain (used or canceled: the token keeps one flag). */
export async function readAuthorizationState(client: PublicClient, asset: Address, from: Address, nonce: Hex): Promise<boolean> {
  try {
    return await client.readContract({ address: asset, abi: fiatTokenAbi, functionName: "authorizationState", args: [from, nonce] });
  } catch (err) {
    throw new RpcUnavailableError(`authorizationState: ${revertMessage(err)}`, err);
  }
}

export async function readPayerCode(client: PublicClient, payer: Address): Promise<boolean> {
  const code = await attempt("getCode(payer)", () => client.getCode({ address: payer }));
  return code.ok && !!code.value && code.value !== "0x";
}

/** Strict ERC-1271, as FiatToken's SignatureChecker does it: no ECDSA fallback for contracts. */
export async function isValidErc1271(client: PublicClient, wallet: Address, digest: Hex, signature: Hex): Promise<boolean> {
  const data = encodeFunctionData({ abi: erc1271Abi, functionName: "isValidSignature", args: [digest, signature] });
  const out = await attempt("isValidSignature", () => client.call({ to: wallet, data }).then((r) => r.data ?? "0x"));
  // SignatureChecker compares the whole first return word with the selector, zero-padded.
  return out.ok && out.value.slice(0, 66).toLowerCase() === ERC1271_MAGIC.padEnd(66, "0");
}

/**
 * ERC-6492: whether a wallet that does not exist yet will accept the signature once its factory
 * has run. The standard's validator answers from its constructor in one eth_call (deployless),
 * so nothing is deployed and no validator address is trusted.
 */
export async function isValidCounterfactual(client: PublicClient, wallet: Address, digest: Hex, wrapped: Hex): Promise<boolean> {
  const data = encodeDeployData({
    abi: erc6492SignatureValidatorAbi,
    bytecode: erc6492SignatureValidatorByteCode,
    args: [wallet, digest, wrapped],
  });
  const out = await attempt("ERC-6492 validator", () => client.call({ data }).then((r) => r.data ?? "0x"));
  return out.ok && /^0x0*1$/.test(out.value);
}
