// The worker's grouped re-simulation (src/worker/gas-prober.ts over src/evm/gas-probe.ts), on
// anvil with the real USDC: the committed probe code is its source compiled; a group's figures
// are enough for each transfer sent on its own (sent with exactly that limit, each lands) and
// stay close to the node's own estimate; a transfer that would fail gets no figure; a node that
// does not apply state overrides gets no figures, and is not asked again for a while; one that
// cannot be reached fails like any RPC call and is asked again.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import pino from "pino";
import { createPublicClient, createWalletClient, http, type Address, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ANVIL_KEYS } from "../src/devnet/anvil.js";
import { GAS_PROBE_CODE } from "../src/evm/gas-probe.js";
import { transferCalldata } from "../src/evm/payment-reads.js";
import { createGasProber, createProbeSupport } from "../src/worker/gas-prober.js";
import { startTestChain, type TestChain } from "./support/chain.js";
import { signAuthorization } from "./support/payments.js";
import { startRpcProxy, type RpcProxy } from "./support/rpc-proxy.js";

const PRICE = 10_000n;
const relayer = privateKeyToAccount(ANVIL_KEYS[1]);
const shop = privateKeyToAccount(ANVIL_KEYS[3]).address;
const quiet = pino({ level: "silent" });
let chain: TestChain;
let proxy: RpcProxy;

beforeAll(async () => {
  chain = await startTestChain();
  proxy = await startRpcProxy(chain.rpcUrl);
});

afterAll(async () => {
  await proxy?.close();
  await chain?.stop();
});

/** A funded payer's transfer to the shop, as the worker would send it. */
async function transfer(o: { funded?: boolean; payTo?: Address } = {}) {
  const payer = privateKeyToAccount(generatePrivateKey());
  if (o.funded !== false) await chain.fund(payer.address, "1");
  const payTo = o.payTo ?? shop;
  const { authorization, signature } = await signAuthorization({
    payer,
    payTo,
    value: PRICE,
    asset: chain.usdc.address,
    chainId: chain.chainId,
  });
  return {
    relayer: relayer.address,
    asset: chain.usdc.address,
    payer: payer.address,
    payTo,
    call: { to: chain.usdc.address as Hex, data: transferCalldata(authorization, signature) },
  };
}

it("the committed probe code is GasProbe.sol compiled with the project's solc", () => {
  const solc = createRequire(import.meta.url)("solc") as { compile(input: string): string };
  const source = readFileSync(new URL("../src/evm/GasProbe.sol", import.meta.url), "utf8");
  const out = JSON.parse(
    solc.compile(
      JSON.stringify({
        language: "Solidity",
        sources: { "GasProbe.sol": { content: source } },
        settings: {
          optimizer: { enabled: true, runs: 200 },
          evmVersion: "paris",
          metadata: { bytecodeHash: "none", appendCBOR: false },
          outputSelection: { "*": { "*": ["evm.deployedBytecode.object"] } },
        },
      }),
    ),
  );
  expect(`0x${out.contracts["GasProbe.sol"].GasProbe.evm.deployedBytecode.object}`).toBe(GAS_PROBE_CODE);
});

describe("a group probed in one eth_call", () => {
  it("gives each transfer a limit it lands with on its own, close to the node's estimate", async () => {
    const asks = await Promise.all(Array.from({ length: 6 }, () => transfer()));
    // A fresh payee: its balance goes from zero to non-zero, the dearest case.
    asks.push(await transfer({ payTo: privateKeyToAccount(generatePrivateKey()).address }));
    const estimates = await Promise.all(asks.map((a) => chain.client.estimateGas({ account: relayer.address, ...a.call })));
    const before = proxy.calls.length;
    const probe = createGasProber(() => chain.client, createProbeSupport(quiet));
    const viaProxy = createGasProber(() => proxyClient(), createProbeSupport(quiet));
    const [direct, proxied] = await Promise.all([
      Promise.all(asks.map((a) => probe(chain.chainId, a))),
      Promise.all(asks.map((a) => viaProxy(chain.chainId, a))),
    ]);
    // One eth_call for the whole group, not one estimate each.
    expect(proxy.calls.slice(before).map((c) => c.method)).toEqual(["eth_call"]);
    expect(proxied).toEqual(direct);
    direct.forEach((gas, i) => {
      expect(gas, `transfer ${i}`).toBeGreaterThanOrEqual(estimates[i]!);
      // At most the allowances above what was measured (cold accounts and slots, 17,800; a
      // payee balance leaving zero, 20,000), plus the probe's own call overhead.
      expect(gas! - estimates[i]!, `transfer ${i}`).toBeLessThan(45_000n);
    });
    // Each sent alone with exactly its figure as the limit (no headroom), in the reverse of the
    // probe's order: the last one, measured after the shop's balance had left zero, now pays
    // for that itself. Every one lands.
    const wallet = createWalletClient({ account: relayer, transport: http(chain.rpcUrl) });
    for (const [i, a] of [...asks.entries()].reverse()) {
      const hash = await wallet.sendTransaction({ chain: null, ...a.call, gas: direct[i]! });
      const receipt = await chain.client.waitForTransactionReceipt({ hash });
      expect(receipt.status, `transfer ${i}`).toBe("success");
      expect(receipt.gasUsed).toBeLessThanOrEqual(direct[i]!);
    }
  });

  it("gives no figure to a transfer that would fail, and still figures the others", async () => {
    const good = await transfer();
    const unfunded = await transfer({ funded: false });
    const alsoGood = await transfer();
    const probe = createGasProber(() => chain.client, createProbeSupport(quiet));
    const [a, b, c] = await Promise.all([good, unfunded, alsoGood].map((t) => probe(chain.chainId, t)));
    expect(a).toBeGreaterThan(50_000n);
    expect(b).toBeUndefined();
    expect(c).toBeGreaterThan(50_000n);
  });

  it("a node that does not apply state overrides gets no figures, and is not asked again for a while", async () => {
    proxy.dropStateOverrides = true;
    try {
      const probe = createGasProber(() => proxyClient(), createProbeSupport(quiet));
      const asks = await Promise.all([transfer(), transfer()]);
      expect(await Promise.all(asks.map((a) => probe(chain.chainId, a)))).toEqual([undefined, undefined]);
      const before = proxy.calls.length;
      expect(await probe(chain.chainId, await transfer())).toBeUndefined();
      expect(proxy.calls.length).toBe(before);
    } finally {
      proxy.dropStateOverrides = false;
    }
  });

  it("a node that cannot be reached is an RPC failure to retry, not a refusal: the probe is asked again once it answers", async () => {
    const probe = createGasProber(() => proxyClient(), createProbeSupport(quiet));
    const ask = await transfer();
    proxy.mode = "down";
    try {
      await expect(probe(chain.chainId, ask)).rejects.toThrow();
    } finally {
      proxy.mode = "ok";
    }
    expect(await probe(chain.chainId, ask)).toBeGreaterThan(50_000n);
  });
});

let proxied: TestChain["client"] | undefined;
const proxyClient = () => (proxied ??= createPublicClient({ transport: http(proxy.url) }) as TestChain["client"]);
