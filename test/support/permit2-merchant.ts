// x402 `exact` via Permit2 end to end, built only from the official v2 packages: an
// @x402/express@2 merchant whose paid route is priced in a given ERC-20 with
// assetTransferMethod "permit2", and an @x402/fetch@2 buyer that pays it and remembers the
// header it sent. Plus the few chain and ledger reads the Permit2 interop tests share.
import { HTTPFacilitatorClient } from "@x402/core/server";
import { ExactEvmScheme as ExactServer } from "@x402/evm/exact/server";
import { ExactEvmScheme as ExactClient } from "@x402/evm/exact/client";
import { paymentMiddleware, x402ResourceServer } from "@x402/express";
import { encodeFunctionData, erc20Abi, maxUint256, parseEther, type Address, type Hex } from "viem";
import { privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";
import { sendTx } from "../../src/devnet/contracts.js";
import { PERMIT2_ADDRESS, permit2Abi, type Permit2Stack } from "../../src/devnet/permit2.js";
import { payWithClientScheme, type Attempt } from "./buyers.js";
import type { TestChain } from "./chain.js";
import type { TestFacilitator } from "./facilitator.js";
import { paidApp, serve, V2_NETWORK, type Merchant } from "./merchant.js";
import { baseSepoliaFile } from "./networks-file.js";

/** The token a route is priced in, with its EIP-712 domain (the client signs EIP-2612 permits with it). */
export interface PriceToken {
  address: Address;
  name: string;
  version: string;
}

export interface Permit2MerchantOptions {
  facilitatorUrl: string;
  payTo: Address;
  token: PriceToken;
  /** Atomic units of `token`. */
  amount: bigint;
  /** Route-level extension declarations, e.g. declareEip2612GasSponsoringExtension(). */
  extensions?: Record<string, unknown>;
}

/**
 * The NETWORKS_FILE the Permit2 tests run the facilitator with: the test chain's USDC with no
 * transferMethods (so both "eip3009" and "permit2"), and the permit-only token limited to
 * "permit2" since it has no EIP-3009.
 */
export function permit2NetworksFile(chain: TestChain, stack: Permit2Stack, settings: Record<string, unknown> = {}): string {
  const { address, name, version, decimals, symbol } = stack.token;
  return baseSepoliaFile(chain, {
    ...settings,
    assets: [
      { address: chain.usdc.address, name: chain.usdc.name, version: chain.usdc.version, decimals: 6, symbol: "USDC" },
      { address, name, version, decimals, symbol, transferMethods: ["permit2"] },
    ],
  });
}

export async function startPermit2Merchant(o: Permit2MerchantOptions): Promise<Merchant> {
  const { address, name, version } = o.token;
  const routes = {
    "GET /paid": {
      accepts: {
        scheme: "exact",
        network: V2_NETWORK,
        payTo: o.payTo,
        // An explicit asset amount: the server scheme passes its extra through to the requirements.
        price: { amount: o.amount.toString(), asset: address, extra: { name, version, assetTransferMethod: "permit2" } },
      },
      description: "paid content",
      mimeType: "application/json",
      ...(o.extensions ? { extensions: o.extensions } : {}),
    },
  };
  const server = new x402ResourceServer(new HTTPFacilitatorClient({ url: o.facilitatorUrl })).register(V2_NETWORK, new ExactServer());
  const { app, handled } = paidApp((a) => a.use(paymentMiddleware(routes, server)));
  const s = await serve(app);
  return { paidUrl: `${s.base}/paid`, handled, close: s.close };
}

/**
 * Pays with @x402/fetch@2 for `account`, in `asset` only. The rpcUrl lets the client read allowance and permit
 * nonces, which it needs only to sign an EIP-2612 permit when the route offers sponsoring.
 */
export const payWithPermit2 = (url: string, account: PrivateKeyAccount, rpcUrl: string, asset: Address): Promise<Attempt> =>
  payWithClientScheme(url, new ExactClient(account, { rpcUrl }), asset);

export const tokenBalance = (chain: TestChain, token: Address, who: Address) =>
  chain.client.readContract({ address: token, abi: erc20Abi, functionName: "balanceOf", args: [who] });

export const permit2Allowance = (chain: TestChain, token: Address, owner: Address) =>
  chain.client.readContract({ address: token, abi: erc20Abi, functionName: "allowance", args: [owner, PERMIT2_ADDRESS] });

/** The one-time setup a Permit2 payer does itself: gas money, then approve(Permit2, max) from its own key. */
export async function approvePermit2(chain: TestChain, token: Address, payerKey: Hex): Promise<void> {
  const payer = privateKeyToAccount(payerKey).address;
  await chain.test.setBalance({ address: payer, value: parseEther("1") });
  await sendTx(
    chain.rpcUrl,
    payerKey,
    token,
    encodeFunctionData({ abi: erc20Abi, functionName: "approve", args: [PERMIT2_ADDRESS, maxUint256] }),
  );
}

/** Whether Permit2 has marked this unordered nonce of `owner` as used. */
export async function permit2NonceUsed(chain: TestChain, owner: Address, nonce: bigint): Promise<boolean> {
  const word = await chain.client.readContract({
    address: PERMIT2_ADDRESS,
    abi: permit2Abi,
    functionName: "nonceBitmap",
    args: [owner, nonce >> 8n],
  });
  return ((word >> (nonce & 255n)) & 1n) === 1n;
}

export interface LedgerRow {
  scheme: string;
  method: string;
  state: string;
  settled_tx: string | null;
}

export const ledgerRows = (fac: TestFacilitator, payer: Address) =>
  fac.sql<LedgerRow[]>`select scheme, method, state, settled_tx from settlements where lower(payer) = ${payer.toLowerCase()}`;

/** The payer's rows once all of them are confirmed (settle answers when mined; confirmation follows). */
export async function confirmedRows(fac: TestFacilitator, payer: Address, timeoutMs = 15_000): Promise<LedgerRow[]> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const rows = await ledgerRows(fac, payer);
    if ((rows.length > 0 && rows.every((r) => r.state === "confirmed")) || Date.now() > end) return rows;
    await new Promise((r) => setTimeout(r, 150));
  }
}
