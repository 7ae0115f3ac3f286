// The devnet's Permit2 stack (src/devnet/permit2.ts) against real signatures: Permit2 at its
// canonical address with the right domain, our stand-ins for the x402 exact/upto proxies, and a
// permit-only token; then the official @x402/evm client and facilitator run against them.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BaseError,
  ContractFunctionRevertedError,
  domainSeparator,
  encodeAbiParameters,
  encodeFunctionData,
  hexToBigInt,
  keccak256,
  maxUint256,
  parseEventLogs,
  parseSignature,
  stringToHex,
  toHex,
  type Abi,
  type Address,
  type Hash,
  type Hex,
  type LocalAccount,
} from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { formatAbiItem } from "viem/utils";
import {
  permit2WitnessTypes,
  toClientEvmSigner,
  uptoPermit2WitnessTypes as officialUptoWitnessTypes,
  x402ExactPermit2ProxyABI,
  x402UptoPermit2ProxyABI,
} from "@x402/evm";
import { ExactEvmScheme as ExactClient } from "@x402/evm/exact/client";
import { ExactEvmScheme as ExactFacilitator } from "@x402/evm/exact/facilitator";
import { UptoEvmScheme as UptoClient } from "@x402/evm/upto/client";
import type { PaymentPayload, PaymentRequirements } from "@x402/core/types";
import { ANVIL_KEYS } from "../src/devnet/anvil.js";
import { sendTx } from "../src/devnet/contracts.js";
import { ownArtifact } from "../src/devnet/own-contracts.js";
import {
  EXACT_WITNESS_TYPE_STRING,
  PERMIT2_ADDRESS,
  PERMIT2_STACK_DEPLOYER_KEY,
  UPTO_WITNESS_TYPE_STRING,
  X402_EXACT_PERMIT2_PROXY,
  X402_UPTO_PERMIT2_PROXY,
  deployPermit2Stack,
  eip2612PermitTypes,
  exactPermit2WitnessTypes,
  permit2Abi,
  permit2Artifact,
  permit2SourceRoot,
  permitTokenAbi,
  uptoPermit2WitnessTypes,
  x402ExactPermit2ProxyAbi,
  x402UptoPermit2ProxyAbi,
  type Permit2Stack,
} from "../src/devnet/permit2.js";
import { referenceSigner } from "../bench/peer-facilitator.js";
import { startTestChain, type TestChain } from "./support/chain.js";

const FACILITATOR_KEY = ANVIL_KEYS[0];
const PAYER_KEY = ANVIL_KEYS[1];

let chain: TestChain;
let stack: Permit2Stack;
let facilitator: LocalAccount;
let payer: LocalAccount; // has approved Permit2 for the token
let payTo: Address;
let stranger: LocalAccount;

beforeAll(async () => {
  chain = await startTestChain();
  const started = performance.now();
  stack = await deployPermit2Stack(chain.rpcUrl);
  console.info(`deployPermit2Stack: ${Math.round(performance.now() - started)} ms`);
  [facilitator, payer, , , stranger] = chain.accounts as [LocalAccount, LocalAccount, LocalAccount, LocalAccount, LocalAccount];
  payTo = chain.accounts[3]!.address;
  await stack.mint(payer.address, 1_000_000_000n);
  await sendTx(
    chain.rpcUrl,
    PAYER_KEY,
    stack.token.address,
    encodeFunctionData({ abi: permitTokenAbi, functionName: "approve", args: [PERMIT2_ADDRESS, maxUint256] }),
  );
});

afterAll(async () => {
  await chain?.stop();
});

const balance = (who: Address) =>
  chain.client.readContract({ address: stack.token.address, abi: permitTokenAbi, functionName: "balanceOf", args: [who] });

async function chainNow(): Promise<bigint> {
  return (await chain.client.getBlock()).timestamp;
}

const randomNonce = () => hexToBigInt(toHex(randomBytes(32)));

interface ExactOverrides {
  amount?: bigint;
  spender?: Address;
  deadline?: bigint;
  validAfter?: bigint;
}

async function signExact(signer: LocalAccount, o: ExactOverrides = {}) {
  const permit = {
    permitted: { token: stack.token.address, amount: o.amount ?? 1_250_000n },
    nonce: randomNonce(),
    deadline: o.deadline ?? (await chainNow()) + 600n,
  };
  const witness = { to: payTo, validAfter: o.validAfter ?? 0n };
  const signature = await signer.signTypedData({
    domain: { name: "Permit2", chainId: chain.chainId, verifyingContract: PERMIT2_ADDRESS },
    types: exactPermit2WitnessTypes,
    primaryType: "PermitWitnessTransferFrom",
    message: { ...permit, spender: o.spender ?? X402_EXACT_PERMIT2_PROXY, witness },
  });
  return { permit, witness, signature };
}

async function signUpto(signer: LocalAccount, max: bigint, facilitatorAddress: Address) {
  const permit = { permitted: { token: stack.token.address, amount: max }, nonce: randomNonce(), deadline: (await chainNow()) + 600n };
  const witness = { to: payTo, facilitator: facilitatorAddress, validAfter: 0n };
  const signature = await signer.signTypedData({
    domain: { name: "Permit2", chainId: chain.chainId, verifyingContract: PERMIT2_ADDRESS },
    types: uptoPermit2WitnessTypes,
    primaryType: "PermitWitnessTransferFrom",
    message: { ...permit, spender: X402_UPTO_PERMIT2_PROXY, witness },
  });
  return { permit, witness, signature };
}

/** An EIP-2612 permit for Permit2 signed with the token's own domain, split as settleWithPermit takes it. */
async function signTokenPermit(owner: LocalAccount, value: bigint) {
  const nonce = await chain.client.readContract({
    address: stack.token.address,
    abi: permitTokenAbi,
    functionName: "nonces",
    args: [owner.address],
  });
  const deadline = (await chainNow()) + 600n;
  const sig = await owner.signTypedData({
    domain: { name: stack.token.name, version: stack.token.version, chainId: chain.chainId, verifyingContract: stack.token.address },
    types: eip2612PermitTypes,
    primaryType: "Permit",
    message: { owner: owner.address, spender: PERMIT2_ADDRESS, value, nonce, deadline },
  });
  const { r, s, v, yParity } = parseSignature(sig);
  return { value, deadline, r, s, v: Number(v ?? BigInt(yParity + 27)) };
}

/** Name of the custom error (or the Error(string) reason) an eth_call reverted with. */
async function revertOf(call: Promise<unknown>): Promise<string> {
  try {
    await call;
  } catch (err) {
    const reverted = err instanceof BaseError ? err.walk((e) => e instanceof ContractFunctionRevertedError) : null;
    if (reverted instanceof ContractFunctionRevertedError) {
      const name = reverted.data?.errorName;
      return name && name !== "Error" ? name : (reverted.reason ?? reverted.signature ?? "unknown");
    }
    throw err;
  }
  throw new Error("expected the call to revert");
}

async function logsOf(hash: Hash, abi: Abi) {
  const receipt = await chain.client.getTransactionReceipt({ hash });
  return parseEventLogs({ abi, logs: receipt.logs }).map((l) => l.eventName);
}

function simulateExact(args: Awaited<ReturnType<typeof signExact>>, from: Address = facilitator.address, owner = payer.address) {
  return chain.client.simulateContract({
    account: from,
    address: X402_EXACT_PERMIT2_PROXY,
    abi: x402ExactPermit2ProxyAbi,
    functionName: "settle",
    args: [args.permit, owner, args.witness, args.signature],
  });
}

function nonceBit(owner: Address, nonce: bigint): Promise<boolean> {
  return chain.client
    .readContract({ address: PERMIT2_ADDRESS, abi: permit2Abi, functionName: "nonceBitmap", args: [owner, nonce >> 8n] })
    .then((word) => ((word >> (nonce & 255n)) & 1n) === 1n);
}

describe("Permit2 at the canonical address", () => {
  it("reports the EIP-712 domain separator for this chain and address", async () => {
    const onChain = await chain.client.readContract({ address: PERMIT2_ADDRESS, abi: permit2Abi, functionName: "DOMAIN_SEPARATOR" });
    const expected = keccak256(
      encodeAbiParameters(
        [{ type: "bytes32" }, { type: "bytes32" }, { type: "uint256" }, { type: "address" }],
        [
          keccak256(stringToHex("EIP712Domain(string name,uint256 chainId,address verifyingContract)")),
          keccak256(stringToHex("Permit2")),
          BigInt(chain.chainId),
          PERMIT2_ADDRESS,
        ],
      ),
    );
    expect(onChain).toBe(expected);
    expect(onChain).toBe(domainSeparator({ domain: { name: "Permit2", chainId: chain.chainId, verifyingContract: PERMIT2_ADDRESS } }));
  });

  it("runs the code Uniswap ships precompiled, byte for byte outside the two immutables", async () => {
    // permit2/test/utils/DeployPermit2.sol etches the official build's runtime code.
    const shipped = /hex"([0-9a-f]+)"/.exec(readFileSync(path.join(permit2SourceRoot(), "test/utils/DeployPermit2.sol"), "utf8"))?.[1];
    const onChain = (await chain.client.getCode({ address: PERMIT2_ADDRESS }))?.slice(2);
    expect(shipped).toBeTruthy();
    const immutables = (await permit2Artifact()).immutableReferences;
    const mask = (hex: string) => {
      let out = hex;
      for (const refs of Object.values(immutables)) {
        for (const { start, length } of refs) out = out.slice(0, start * 2) + "00".repeat(length) + out.slice((start + length) * 2);
      }
      return out;
    };
    expect(onChain?.length).toBe(shipped?.length);
    expect(mask(onChain ?? "")).toBe(mask(shipped ?? ""));
  });

  it("is left alone by a second deployPermit2Stack, which sends nothing", async () => {
    const deployer = privateKeyToAccount(PERMIT2_STACK_DEPLOYER_KEY).address;
    const sent = await chain.client.getTransactionCount({ address: deployer });
    const started = performance.now();
    const again = await deployPermit2Stack(chain.rpcUrl);
    console.info(`deployPermit2Stack again: ${Math.round(performance.now() - started)} ms`);
    expect({ ...again, mint: undefined }).toEqual({ ...stack, mint: undefined });
    expect(await chain.client.getTransactionCount({ address: deployer })).toBe(sent);
  });
});

describe("proxies and token", () => {
  const signatures = (abi: readonly unknown[]) =>
    new Set(
      (abi as { type: string }[])
        .filter((i) => i.type === "function" || i.type === "error")
        .map((i) => `${i.type} ${formatAbiItem(i as never)}`),
    );

  it.each([
    ["x402ExactPermit2Proxy", x402ExactPermit2ProxyABI, x402ExactPermit2ProxyAbi],
    ["x402UptoPermit2Proxy", x402UptoPermit2ProxyABI, x402UptoPermit2ProxyAbi],
  ] as const)("%s has every function and error selector of the @x402/evm ABI", async (name, official, exported) => {
    const ours = signatures((await ownArtifact(name)).abi);
    const typed = signatures(exported);
    for (const sig of signatures(official)) {
      expect(ours, sig).toContain(sig);
      expect(typed, sig).toContain(sig);
    }
  });

  it("signs the same EIP-712 types as @x402/evm", () => {
    expect(exactPermit2WitnessTypes).toEqual(permit2WitnessTypes);
    expect(uptoPermit2WitnessTypes).toEqual(officialUptoWitnessTypes);
  });

  it("proxies point at Permit2 and hand it the witness types the payer signs", async () => {
    const read = (address: Address, functionName: "PERMIT2" | "WITNESS_TYPE_STRING" | "WITNESS_TYPEHASH") =>
      chain.client.readContract({ address, abi: x402ExactPermit2ProxyAbi, functionName });
    expect(await read(X402_EXACT_PERMIT2_PROXY, "PERMIT2")).toBe(PERMIT2_ADDRESS);
    expect(await read(X402_UPTO_PERMIT2_PROXY, "PERMIT2")).toBe(PERMIT2_ADDRESS);
    expect(await read(X402_EXACT_PERMIT2_PROXY, "WITNESS_TYPE_STRING")).toBe(EXACT_WITNESS_TYPE_STRING);
    expect(await read(X402_UPTO_PERMIT2_PROXY, "WITNESS_TYPE_STRING")).toBe(UPTO_WITNESS_TYPE_STRING);
    expect(await read(X402_EXACT_PERMIT2_PROXY, "WITNESS_TYPEHASH")).toBe(keccak256(stringToHex("Witness(address to,uint256 validAfter)")));
    expect(await read(X402_UPTO_PERMIT2_PROXY, "WITNESS_TYPEHASH")).toBe(
      keccak256(stringToHex("Witness(address to,address facilitator,uint256 validAfter)")),
    );
  });

  it("token is a 6-decimal ERC20Permit whose EIP-712 domain matches what the stack reports", async () => {
    const read = <F extends "name" | "symbol" | "decimals">(functionName: F) =>
      chain.client.readContract({ address: stack.token.address, abi: permitTokenAbi, functionName });
    expect(await read("name")).toBe(stack.token.name);
    expect(await read("symbol")).toBe(stack.token.symbol);
    expect(await read("decimals")).toBe(6);
    const [, name, version, chainId, verifyingContract] = await chain.client.readContract({
      address: stack.token.address,
      abi: permitTokenAbi,
      functionName: "eip712Domain",
    });
    expect({ name, version, chainId, verifyingContract }).toEqual({
      name: stack.token.name,
      version: stack.token.version,
      chainId: BigInt(chain.chainId),
      verifyingContract: stack.token.address,
    });
  });
});

describe("exact proxy", () => {
  it("moves exactly the permitted amount to witness.to, marks the nonce used, and refuses a replay", async () => {
    const signed = await signExact(payer, { amount: 1_250_000n });
    const [payerBefore, payToBefore] = [await balance(payer.address), await balance(payTo)];
    expect(await nonceBit(payer.address, signed.permit.nonce)).toBe(false);

    const hash = await sendTx(
      chain.rpcUrl,
      FACILITATOR_KEY,
      X402_EXACT_PERMIT2_PROXY,
      encodeFunctionData({
        abi: x402ExactPermit2ProxyAbi,
        functionName: "settle",
        args: [signed.permit, payer.address, signed.witness, signed.signature],
      }),
    );
    expect(await balance(payer.address)).toBe(payerBefore - 1_250_000n);
    expect(await balance(payTo)).toBe(payToBefore + 1_250_000n);
    expect(await nonceBit(payer.address, signed.permit.nonce)).toBe(true);
    expect(await logsOf(hash, x402ExactPermit2ProxyAbi)).toContain("Settled");
    expect(await revertOf(simulateExact(signed))).toBe("InvalidNonce");
  });

  it("rejects a signature for another spender, another recipient or owner, after its deadline, and before validAfter", async () => {
    const now = await chainNow();
    const forUpto = await signExact(payer, { spender: X402_UPTO_PERMIT2_PROXY });
    expect(await revertOf(simulateExact(forUpto))).toBe("InvalidSigner");

    const redirected = await signExact(payer);
    redirected.witness = { ...redirected.witness, to: stranger.address };
    expect(await revertOf(simulateExact(redirected))).toBe("InvalidSigner");

    const someoneElses = await signExact(payer);
    expect(await revertOf(simulateExact(someoneElses, facilitator.address, stranger.address))).toBe("InvalidSigner");

    const expired = await signExact(payer, { deadline: now - 1n });
    expect(await revertOf(simulateExact(expired))).toBe("SignatureExpired");

    const early = await signExact(payer, { validAfter: now + 3_600n });
    expect(await revertOf(simulateExact(early))).toBe("PaymentTooEarly");

    const zero = await signExact(payer, { amount: 0n });
    expect(await revertOf(simulateExact(zero))).toBe("InvalidAmount");
  });

  it("needs the payer's allowance for Permit2; settleWithPermit brings it with a signed EIP-2612 permit alone", async () => {
    const fresh = privateKeyToAccount(generatePrivateKey()); // never holds ETH, never sends a transaction
    await stack.mint(fresh.address, 5_000_000n);
    const signed = await signExact(fresh, { amount: 2_000_000n });
    expect(await revertOf(simulateExact(signed, facilitator.address, fresh.address))).toBe("TRANSFER_FROM_FAILED");

    const permit2612 = await signTokenPermit(fresh, 2_000_000n);
    const payToBefore = await balance(payTo);
    const hash = await sendTx(
      chain.rpcUrl,
      FACILITATOR_KEY,
      X402_EXACT_PERMIT2_PROXY,
      encodeFunctionData({
        abi: x402ExactPermit2ProxyAbi,
        functionName: "settleWithPermit",
        args: [permit2612, signed.permit, fresh.address, signed.witness, signed.signature],
      }),
    );
    expect(await logsOf(hash, x402ExactPermit2ProxyAbi)).toEqual(expect.arrayContaining(["SettledWithPermit"]));
    expect(await balance(fresh.address)).toBe(3_000_000n);
    expect(await balance(payTo)).toBe(payToBefore + 2_000_000n);
    expect(await chain.client.getTransactionCount({ address: fresh.address })).toBe(0);
    const allowance = (a: Address) =>
      chain.client.readContract({
        address: stack.token.address,
        abi: permitTokenAbi,
        functionName: "allowance",
        args: [a, PERMIT2_ADDRESS],
      });
    expect(await allowance(fresh.address)).toBe(0n);

    // A permit someone submitted first is not fatal: the allowance it set is what Permit2 spends.
    const second = await signExact(fresh, { amount: 1_000_000n });
    const frontRun = await signTokenPermit(fresh, 1_000_000n);
    await sendTx(
      chain.rpcUrl,
      ANVIL_KEYS[4],
      stack.token.address,
      encodeFunctionData({
        abi: permitTokenAbi,
        functionName: "permit",
        args: [fresh.address, PERMIT2_ADDRESS, frontRun.value, frontRun.deadline, frontRun.v, frontRun.r, frontRun.s],
      }),
    );
    const hash2 = await sendTx(
      chain.rpcUrl,
      FACILITATOR_KEY,
      X402_EXACT_PERMIT2_PROXY,
      encodeFunctionData({
        abi: x402ExactPermit2ProxyAbi,
        functionName: "settleWithPermit",
        args: [frontRun, second.permit, fresh.address, second.witness, second.signature],
      }),
    );
    expect(await logsOf(hash2, x402ExactPermit2ProxyAbi)).toEqual(["EIP2612PermitFailed", "SettledWithPermit"]);
    expect(await balance(fresh.address)).toBe(2_000_000n);
  });

  it("refuses an EIP-2612 permit whose value differs from the permitted amount", async () => {
    const fresh = privateKeyToAccount(generatePrivateKey());
    await stack.mint(fresh.address, 5_000_000n);
    const signed = await signExact(fresh, { amount: 2_000_000n });
    const permit2612 = await signTokenPermit(fresh, 3_000_000n);
    const call = chain.client.simulateContract({
      account: facilitator.address,
      address: X402_EXACT_PERMIT2_PROXY,
      abi: x402ExactPermit2ProxyAbi,
      functionName: "settleWithPermit",
      args: [permit2612, signed.permit, fresh.address, signed.witness, signed.signature],
    });
    expect(await revertOf(call)).toBe("Permit2612AmountMismatch");
  });
});

describe("upto proxy", () => {
  const settleUpto = (signed: Awaited<ReturnType<typeof signUpto>>, amount: bigint, owner: Address = payer.address) =>
    encodeFunctionData({
      abi: x402UptoPermit2ProxyAbi,
      functionName: "settle",
      args: [signed.permit, amount, owner, signed.witness, signed.signature],
    });
  const simulateUpto = (signed: Awaited<ReturnType<typeof signUpto>>, amount: bigint, from: Address) =>
    chain.client.simulateContract({
      account: from,
      address: X402_UPTO_PERMIT2_PROXY,
      abi: x402UptoPermit2ProxyAbi,
      functionName: "settle",
      args: [signed.permit, amount, payer.address, signed.witness, signed.signature],
    });

  it("settles less than the maximum, exactly that amount, once", async () => {
    const signed = await signUpto(payer, 3_000_000n, facilitator.address);
    const [payerBefore, payToBefore] = [await balance(payer.address), await balance(payTo)];
    await sendTx(chain.rpcUrl, FACILITATOR_KEY, X402_UPTO_PERMIT2_PROXY, settleUpto(signed, 1_100_000n));
    expect(await balance(payer.address)).toBe(payerBefore - 1_100_000n);
    expect(await balance(payTo)).toBe(payToBefore + 1_100_000n);
    expect(await revertOf(simulateUpto(signed, 1_000n, facilitator.address))).toBe("InvalidNonce");
  });

  it("only the facilitator named in the witness may settle, and never above the permitted amount", async () => {
    const signed = await signUpto(payer, 3_000_000n, facilitator.address);
    expect(await revertOf(simulateUpto(signed, 1_000_000n, stranger.address))).toBe("UnauthorizedFacilitator");
    expect(await revertOf(simulateUpto(signed, 3_000_001n, facilitator.address))).toBe("AmountExceedsPermitted");
    expect(await revertOf(simulateUpto(signed, 0n, facilitator.address))).toBe("InvalidAmount");
  });

  it("settleWithPermit works for a payer who never approved Permit2", async () => {
    const fresh = privateKeyToAccount(generatePrivateKey());
    await stack.mint(fresh.address, 5_000_000n);
    const signed = await signUpto(fresh, 4_000_000n, facilitator.address);
    const permit2612 = await signTokenPermit(fresh, 4_000_000n);
    await sendTx(
      chain.rpcUrl,
      FACILITATOR_KEY,
      X402_UPTO_PERMIT2_PROXY,
      encodeFunctionData({
        abi: x402UptoPermit2ProxyAbi,
        functionName: "settleWithPermit",
        args: [permit2612, signed.permit, 2_500_000n, fresh.address, signed.witness, signed.signature],
      }),
    );
    expect(await balance(fresh.address)).toBe(2_500_000n);
  });
});

describe("against the official @x402/evm client and facilitator", () => {
  const requirements = (scheme: "exact" | "upto", amount: string, extra: Record<string, unknown>): PaymentRequirements => ({
    scheme,
    network: `eip155:${chain.chainId}`,
    asset: stack.token.address,
    amount,
    payTo,
    maxTimeoutSeconds: 300,
    extra: { name: stack.token.name, version: stack.token.version, ...extra },
  });

  it("exact: the official client's Permit2 payload verifies and settles through our proxy", async () => {
    const reqs = requirements("exact", "750000", { assetTransferMethod: "permit2" });
    const created = await new ExactClient(toClientEvmSigner(payer)).createPaymentPayload(2, reqs);
    const auth = (created.payload as { permit2Authorization: { spender: string } }).permit2Authorization;
    expect(auth.spender).toBe(X402_EXACT_PERMIT2_PROXY);
    const payload: PaymentPayload = { x402Version: 2, accepted: reqs, payload: created.payload };

    const official = new ExactFacilitator(await referenceSigner(chain.rpcUrl, FACILITATOR_KEY as Hex));
    expect(await official.verify(payload, reqs)).toMatchObject({ isValid: true });
    const before = await balance(payTo);
    expect(await official.settle(payload, reqs)).toMatchObject({ success: true });
    expect(await balance(payTo)).toBe(before + 750_000n);
  });

  it("exact: with the eip2612GasSponsoring extension a payer with no allowance pays via settleWithPermit", async () => {
    const fresh = privateKeyToAccount(generatePrivateKey());
    await stack.mint(fresh.address, 1_000_000n);
    const reqs = requirements("exact", "400000", { assetTransferMethod: "permit2" });
    const client = new ExactClient(toClientEvmSigner(fresh, chain.client as never));
    const created = await client.createPaymentPayload(2, reqs, { extensions: { eip2612GasSponsoring: {} } });
    expect(created.extensions).toHaveProperty("eip2612GasSponsoring");
    const payload: PaymentPayload = { x402Version: 2, accepted: reqs, payload: created.payload, extensions: created.extensions };

    const official = new ExactFacilitator(await referenceSigner(chain.rpcUrl, FACILITATOR_KEY as Hex));
    expect(await official.verify(payload, reqs)).toMatchObject({ isValid: true });
    expect(await official.settle(payload, reqs)).toMatchObject({ success: true });
    expect(await balance(fresh.address)).toBe(600_000n);
  });

  it("upto: the official client's signature is accepted by our upto proxy", async () => {
    const reqs = requirements("upto", "2000000", { facilitatorAddress: facilitator.address });
    const created = await new UptoClient(toClientEvmSigner(payer)).createPaymentPayload(2, reqs);
    const { permit2Authorization: a, signature } = created.payload as {
      signature: Hex;
      permit2Authorization: {
        permitted: { token: Address; amount: string };
        nonce: string;
        deadline: string;
        witness: { to: Address; facilitator: Address; validAfter: string };
      };
    };
    const before = await balance(payTo);
    await sendTx(
      chain.rpcUrl,
      FACILITATOR_KEY,
      X402_UPTO_PERMIT2_PROXY,
      encodeFunctionData({
        abi: x402UptoPermit2ProxyAbi,
        functionName: "settle",
        args: [
          {
            permitted: { token: a.permitted.token, amount: BigInt(a.permitted.amount) },
            nonce: BigInt(a.nonce),
            deadline: BigInt(a.deadline),
          },
          1_234_567n,
          payer.address,
          { to: a.witness.to, facilitator: a.witness.facilitator, validAfter: BigInt(a.witness.validAfter) },
          signature,
        ],
      }),
    );
    expect(await balance(payTo)).toBe(before + 1_234_567n);
  });
});
