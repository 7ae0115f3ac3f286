// What the two Permit2 differential tests (exact and upto) share besides the comparison itself:
// the parties and the chain they pay on, and the payload mutations both apply. The cases, and how
// each scheme's payload is signed, stay in the test files.
import type { SchemeNetworkClient } from "@x402/core/types";
import { declareEip2612GasSponsoringExtension } from "@x402/extensions";
import type { Address } from "viem";
import { generatePrivateKey, privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";
import { ANVIL_KEYS } from "../../src/devnet/anvil.js";
import { deployPermit2Stack, eip2612PermitTypes, PERMIT2_ADDRESS, permitTokenAbi, type Permit2Stack } from "../../src/devnet/permit2.js";
import { startTestChain, type TestChain } from "./chain.js";
import type { Body } from "./differential-verify.js";
import { startFacilitator } from "./facilitator.js";
import { approvePermit2, permit2NetworksFile } from "./permit2-merchant.js";

export const SIG = "invalid_permit2_signature";
export const ALLOWANCE = "permit2_allowance_required";

// ---- the parties and their chain ------------------------------------------------------------

export const newAccount = () => {
  const key = generatePrivateKey();
  return { key, account: privateKeyToAccount(key) };
};

export function differentialParties() {
  return {
    /** Minted and approved Permit2: pays. */
    payer: newAccount(),
    /** Minted, never approved Permit2: needs an EIP-2612 permit. */
    unapproved: newAccount(),
    /** Approved Permit2, holds nothing. */
    unfunded: newAccount(),
    stranger: privateKeyToAccount(ANVIL_KEYS[4]),
    payTo: privateKeyToAccount(ANVIL_KEYS[3]).address,
    otherPayTo: privateKeyToAccount(ANVIL_KEYS[6]).address,
  };
}

type Parties = ReturnType<typeof differentialParties>;

/** The anvil chain with the Permit2 stack, the parties' balances and approvals, and our facilitator (no worker). */
export async function startDifferentialChain(p: Parties, env: Record<string, string> = {}) {
  const chain = await startTestChain();
  const stack = await deployPermit2Stack(chain.rpcUrl); // before our facilitator: it switches the chain id briefly
  await Promise.all([
    stack.mint(p.payer.account.address, 1_000_000_000n),
    stack.mint(p.unapproved.account.address, 1_000_000_000n),
    chain.fund(p.payer.account.address, "10"),
  ]);
  await approvePermit2(chain, stack.token.address, p.payer.key);
  await approvePermit2(chain, chain.usdc.address, p.payer.key);
  await approvePermit2(chain, stack.token.address, p.unfunded.key);
  const fac = await startFacilitator(chain, { NETWORKS_FILE: permit2NetworksFile(chain, stack), ...env }, { worker: false });
  return { chain, stack, fac };
}

/** The token whose EIP-712 name and version go with `asset`: any address but the permit token's gets USDC's, so an off-allowlist asset still makes a well-formed payload. */
export const tokenInfo = (chain: TestChain, stack: Permit2Stack, asset: Address) =>
  asset === stack.token.address ? stack.token : chain.usdc;

// ---- payload mutations ----------------------------------------------------------------------

export const authOf = (b: Body) => b.paymentPayload.payload.permit2Authorization;

/** Changes the requirements and the payload's `accepted` copy of them alike. */
export function setRequirements(b: Body, patch: Record<string, unknown>) {
  b.paymentRequirements = { ...b.paymentRequirements, ...patch };
  b.paymentPayload.accepted = { ...b.paymentPayload.accepted, ...patch };
}

/** A mixed-case address whose EIP-55 checksum is wrong (one letter's case flipped). */
export function badChecksum(a: string): Address {
  const i = [...a].findIndex((ch, k) => k > 1 && /[a-fA-F]/.test(ch));
  const ch = a[i]!;
  return (a.slice(0, i) + (ch === ch.toLowerCase() ? ch.toUpperCase() : ch.toLowerCase()) + a.slice(i + 1)) as Address;
}

export interface Eip2612Over {
  signer: PrivateKeyAccount;
  from: Address;
  spender: Address;
  amount: bigint;
  deadline: bigint;
}

/**
 * Attaches the eip2612GasSponsoring extension: an EIP-2612 permit (token → Permit2) for what the
 * Permit2 authorization permits, signed in `domain` by `over.signer`.
 */
export async function attachEip2612(
  chain: TestChain,
  domain: { name: string; version: string },
  b: Body,
  over: Partial<Eip2612Over> & { signer: PrivateKeyAccount },
): Promise<Body> {
  const auth = authOf(b);
  const owner = auth.from as Address;
  const token = auth.permitted.token as Address;
  const nonce = await chain.client.readContract({ address: token, abi: permitTokenAbi, functionName: "nonces", args: [owner] });
  const value = over.amount ?? BigInt(auth.permitted.amount);
  const deadline = over.deadline ?? BigInt(auth.deadline);
  const signature = await over.signer.signTypedData({
    domain: { name: domain.name, version: domain.version, chainId: chain.chainId, verifyingContract: token },
    types: eip2612PermitTypes,
    primaryType: "Permit",
    message: { owner, spender: PERMIT2_ADDRESS, value, nonce, deadline },
  });
  const declared = declareEip2612GasSponsoringExtension().eip2612GasSponsoring as { info: object; schema: object };
  b.paymentPayload.extensions = {
    eip2612GasSponsoring: {
      ...declared,
      info: {
        ...declared.info,
        from: over.from ?? owner,
        asset: token,
        spender: over.spender ?? PERMIT2_ADDRESS,
        amount: value.toString(),
        nonce: nonce.toString(),
        deadline: deadline.toString(),
        signature,
        version: "1",
      },
    },
  };
  return b;
}

/** A payload built end to end by an official @x402/evm client from `requirements`, declaring sponsoring if asked. */
export async function buildWithOfficialClient(
  client: SchemeNetworkClient,
  requirements: Record<string, unknown>,
  resourceUrl: string,
  sponsoring: boolean,
): Promise<Body> {
  const context = sponsoring ? { extensions: declareEip2612GasSponsoringExtension() } : undefined;
  const result = await client.createPaymentPayload(2, requirements as never, context as never);
  return {
    x402Version: 2,
    paymentPayload: {
      ...result,
      resource: { url: resourceUrl, description: "test", mimeType: "application/json" },
      accepted: requirements,
    },
    paymentRequirements: requirements,
  };
}
