// Verify simulations that arrive together share Multicall3 calls, and sharing never changes a
// verdict: the same burst of payments gets the same answers from a verifier that simulates each
// payment alone. The burst is handed to the verifiers in one event-loop turn (over HTTP it would
// trickle in over several), so everything that can share a call does. The burst holds the cases where sharing could mislead: a payer paying twice
// out of a balance for one, and a payer whose funds only arrive through another payment of the
// same burst (which, run first in a shared call, would make it look solvent).
import { decodeFunctionData, encodeFunctionData, type Address, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ANVIL_KEYS } from "../src/devnet/anvil.js";
import { sendTx } from "../src/devnet/contracts.js";
import { fiatTokenAbi } from "../src/devnet/usdc.js";
import { loadConfig } from "../src/config/config.js";
import { aggregate3Abi, MULTICALL3 } from "../src/evm/multicall.js";
import { inlineRecovery } from "../src/evm/recovery-threads.js";
import { createChains } from "../src/runtime/chains.js";
import { createVerifier, type Verifier } from "../src/verify/verifier.js";
import { paymentMethods } from "../src/schemes/methods.js";
import { parseFacilitatorRequest } from "../src/x402/wire.js";
import { startTestChain, type TestChain } from "./support/chain.js";
import { signAuthorization, v2Body } from "./support/payments.js";
import { startRpcProxy, type RpcProxy } from "./support/rpc-proxy.js";

const PRICE = 10_000n;
const shop = privateKeyToAccount(ANVIL_KEYS[3]).address;
let chain: TestChain;
let proxy: RpcProxy;
let shared: Verifier;
let alone: Verifier;

const fresh = () => privateKeyToAccount(generatePrivateKey());

async function payment(payer: PrivateKeyAccount, payTo: Address = shop) {
  const signed = await signAuthorization({ payer, payTo, value: PRICE, asset: chain.usdc.address, chainId: chain.chainId });
  return v2Body({ ...signed, asset: chain.usdc.address, payTo, amount: PRICE, network: "eip155:84532" });
}

async function verify(verifier: Verifier, body: unknown): Promise<{ isValid: boolean; invalidReason?: string }> {
  const parsed = parseFacilitatorRequest(body, paymentMethods().payloadSchemaFor);
  if (!parsed.ok) throw new Error(`bad test body: ${parsed.error.message}`);
  const { isValid, invalidReason } = await verifier(parsed.value, { checkLedger: true });
  return { isValid, ...(invalidReason ? { invalidReason } : {}) };
}

function verifierOn(rpcUrl: string, multicallSimulation: boolean): Verifier {
  const config = loadConfig({ DATABASE_URL: "postgres://unused", REDIS_URL: "redis://unused", RPC_URL_BASE_SEPOLIA: rpcUrl });
  const chains = createChains(config.networks.map((n) => ({ ...n, multicallSimulation })));
  // The ledger is not what this file is about: nothing is claimed.
  return createVerifier({ networks: chains, clientFor: chains.clientFor, isClaimed: async () => false, recovery: inlineRecovery });
}

beforeAll(async () => {
  chain = await startTestChain();
  proxy = await startRpcProxy(chain.rpcUrl);
  shared = verifierOn(proxy.url, true);
  alone = verifierOn(chain.rpcUrl, false);
});

afterAll(async () => {
  await proxy?.close();
  await chain?.stop();
});

it("answers a burst of payments alike with shared and with lone simulations, sharing the calls", async () => {
  const independent = Array.from({ length: 6 }, fresh);
  const [twice, poor, spent, y, z] = [fresh(), fresh(), fresh(), fresh(), fresh()];
  for (const p of [...independent, spent, y]) await chain.fund(p.address, "1");
  await chain.fund(twice.address, "0.01"); // exactly one PRICE
  const spentBody = await payment(spent);
  const { authorization: a, signature } = spentBody.paymentPayload.payload;
  await sendTx(
    chain.rpcUrl,
    ANVIL_KEYS[1],
    chain.usdc.address,
    encodeFunctionData({
      abi: fiatTokenAbi,
      functionName: "transferWithAuthorization",
      args: [a.from, a.to, BigInt(a.value), BigInt(a.validAfter), BigInt(a.validBefore), a.nonce, signature as Hex],
    }),
  );

  // Sharing is for payers already seen without code: one verify each makes them known.
  for (const p of [...independent, twice, poor, spent, y, z]) {
    const warm = await payment(p);
    await verify(shared, warm);
    await verify(alone, warm);
  }

  type Verdict = { isValid: boolean; invalidReason?: string };
  const valid: Verdict = { isValid: true };
  const refused = (invalidReason: string): Verdict => ({ isValid: false, invalidReason });
  const some = (from: PrivateKeyAccount[], offset: number) =>
    Promise.all(from.map(async (p, i) => [`independent #${i + offset}`, await payment(p), valid] as const));
  const burst: (readonly [string, unknown, Verdict])[] = [
    ...(await some(independent.slice(0, 3), 0)),
    ["y pays z", await payment(y, z.address), valid],
    ["z pays the shop with money it does not have yet", await payment(z), refused("invalid_exact_evm_insufficient_balance")],
    ["twice, first", await payment(twice), valid],
    ["twice, second (each alone is covered)", await payment(twice), valid],
    ["unfunded", await payment(poor), refused("invalid_exact_evm_insufficient_balance")],
    ["used on chain", spentBody, refused("invalid_exact_evm_nonce_already_used")],
    ...(await some(independent.slice(3), 3)),
  ];

  const mark = proxy.calls.length;
  const [viaShared, viaAlone] = await Promise.all([
    Promise.all(burst.map(([, b]) => verify(shared, b))),
    Promise.all(burst.map(([, b]) => verify(alone, b))),
  ]);
  const want = burst.map(([name, , w]) => [name, w]);
  expect(burst.map(([name], i) => [name, viaShared[i]])).toEqual(want);
  expect(burst.map(([name], i) => [name, viaAlone[i]])).toEqual(want);

  // The shared verifier really shared: aggregate3 calls to Multicall3 carrying several transfers.
  const groups = proxy.calls
    .slice(mark)
    .filter((c) => c.method === "eth_call")
    .map((c) => c.params[0] as { to: string; data: Hex })
    .filter((tx) => tx.to.toLowerCase() === MULTICALL3.toLowerCase())
    .map((tx) => decodeFunctionData({ abi: aggregate3Abi, data: tx.data }).args[0].length);
  expect(Math.max(0, ...groups)).toBeGreaterThanOrEqual(6);
});
