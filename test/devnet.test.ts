import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { domainSeparator, encodeFunctionData, parseAbi, parseSignature, toHex, type Address, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { ANVIL_KEYS, startAnvil, type AnvilInstance } from "../src/devnet/anvil.js";
import { devnetClients } from "../src/devnet/contracts.js";
import { TRANSFER_TYPES } from "./support/payments.js";
import { MULTICALL3_ADDRESS, ensureMulticall3, multicall3Abi } from "../src/devnet/multicall3.js";
import {
  BASE_SEPOLIA_USDC,
  blacklist,
  deployUsdc,
  fiatTokenAbi,
  mintUsdc,
  pauseUsdc,
  unBlacklist,
  unpauseUsdc,
  type UsdcDeployment,
} from "../src/devnet/usdc.js";
import { deployAcceptingWallet, deployRefusingWallet } from "./support/wallets.js";

const CHAIN_ID = 84532;
const RELAYER_KEY = ANVIL_KEYS[0];
const BUYER_KEY = ANVIL_KEYS[2];
const PAYEE = privateKeyToAccount(ANVIL_KEYS[3]).address;
const WALLET_OWNER_KEY = ANVIL_KEYS[4];

let anvil: AnvilInstance;
let usdc: UsdcDeployment;

async function relayer() {
  return devnetClients(anvil.rpcUrl, RELAYER_KEY);
}

async function balanceOf(account: Address): Promise<bigint> {
  const { publicClient } = await relayer();
  return publicClient.readContract({ address: usdc.address, abi: fiatTokenAbi, functionName: "balanceOf", args: [account] });
}

async function signAuthorization(signerKey: Hex, from: Address, to: Address, value: bigint) {
  const { publicClient } = await relayer();
  const { timestamp } = await publicClient.getBlock();
  const message = { from, to, value, validAfter: 0n, validBefore: timestamp + 3600n, nonce: toHex(randomBytes(32)) };
  const signature = await privateKeyToAccount(signerKey).signTypedData({
    domain: { name: usdc.name, version: usdc.version, chainId: CHAIN_ID, verifyingContract: usdc.address },
    types: TRANSFER_TYPES,
    primaryType: "TransferWithAuthorization",
    message,
  });
  return { message, signature };
}

beforeAll(async () => {
  anvil = await startAnvil({ chainId: CHAIN_ID });
  [usdc] = await Promise.all([deployUsdc(anvil.rpcUrl, { address: BASE_SEPOLIA_USDC }), ensureMulticall3(anvil.rpcUrl)]);
}, 60_000);

afterAll(async () => {
  await anvil?.stop();
});

describe("devnet", () => {
  it("serves Circle USDC at the Base Sepolia address with the Base Sepolia EIP-712 domain", async () => {
    const { publicClient } = await relayer();
    const read = <F extends "name" | "symbol" | "version" | "decimals" | "DOMAIN_SEPARATOR">(functionName: F) =>
      publicClient.readContract({ address: BASE_SEPOLIA_USDC, abi: fiatTokenAbi, functionName });
    expect(usdc.address).toBe(BASE_SEPOLIA_USDC);
    expect(await publicClient.getChainId()).toBe(CHAIN_ID);
    expect(await read("name")).toBe("USDC");
    expect(await read("symbol")).toBe("USDC");
    expect(await read("version")).toBe("2");
    expect(await read("decimals")).toBe(6);
    // The proxy state written with anvil_setStorageAt must read back as a real deployment's would.
    const proxyAbi = parseAbi(["function admin() view returns (address)"]);
    expect(await publicClient.readContract({ address: BASE_SEPOLIA_USDC, abi: proxyAbi, functionName: "admin" })).toBe(usdc.admin);
    await expect(
      publicClient.readContract({
        account: usdc.admin,
        address: BASE_SEPOLIA_USDC,
        abi: fiatTokenAbi,
        functionName: "name",
      }),
    ).rejects.toThrow(/proxy admin/);
    expect(await read("DOMAIN_SEPARATOR")).toBe(
      domainSeparator({ domain: { name: "USDC", version: "2", chainId: CHAIN_ID, verifyingContract: BASE_SEPOLIA_USDC } }),
    );
  });

  it("settles an EOA transferWithAuthorization (v, r, s) sent by a relayer", async () => {
    const buyer = privateKeyToAccount(BUYER_KEY).address;
    await mintUsdc(anvil.rpcUrl, usdc, buyer, 10_000_000n);
    const [buyerBefore, payeeBefore] = [await balanceOf(buyer), await balanceOf(PAYEE)];

    const { message, signature } = await signAuthorization(BUYER_KEY, buyer, PAYEE, 1_250_000n);
    const { r, s, v } = parseSignature(signature);
    const { publicClient, walletClient } = await relayer();
    const hash = await walletClient.writeContract({
      address: usdc.address,
      abi: fiatTokenAbi,
      functionName: "transferWithAuthorization",
      args: [message.from, message.to, message.value, message.validAfter, message.validBefore, message.nonce, Number(v), r, s],
    });
    expect((await publicClient.waitForTransactionReceipt({ hash })).status).toBe("success");

    expect(await balanceOf(buyer)).toBe(buyerBefore - 1_250_000n);
    expect(await balanceOf(PAYEE)).toBe(payeeBefore + 1_250_000n);
    expect(
      await publicClient.readContract({
        address: usdc.address,
        abi: fiatTokenAbi,
        functionName: "authorizationState",
        args: [buyer, message.nonce],
      }),
    ).toBe(true);
  });

  it("accepts an ERC-1271 wallet signature through the bytes overload and rejects a refusing wallet", async () => {
    const owner = privateKeyToAccount(WALLET_OWNER_KEY).address;
    const [accepting, refusing] = await Promise.all([deployAcceptingWallet(anvil.rpcUrl, owner), deployRefusingWallet(anvil.rpcUrl)]);
    await mintUsdc(anvil.rpcUrl, usdc, accepting, 5_000_000n);
    await mintUsdc(anvil.rpcUrl, usdc, refusing, 5_000_000n);
    const { publicClient, walletClient, account } = await relayer();
    const payeeBefore = await balanceOf(PAYEE);

    const good = await signAuthorization(WALLET_OWNER_KEY, accepting, PAYEE, 2_000_000n);
    const m = good.message;
    const hash = await walletClient.writeContract({
      address: usdc.address,
      abi: fiatTokenAbi,
      functionName: "transferWithAuthorization",
      args: [m.from, m.to, m.value, m.validAfter, m.validBefore, m.nonce, good.signature],
    });
    expect((await publicClient.waitForTransactionReceipt({ hash })).status).toBe("success");
    expect(await balanceOf(accepting)).toBe(3_000_000n);
    expect(await balanceOf(PAYEE)).toBe(payeeBefore + 2_000_000n);

    // Someone other than the owner signing for the accepting wallet, and anyone for the refusing one.
    for (const [from, key] of [
      [accepting, BUYER_KEY],
      [refusing, WALLET_OWNER_KEY],
    ] as const) {
      const bad = await signAuthorization(key, from, PAYEE, 1n);
      const b = bad.message;
      await expect(
        publicClient.simulateContract({
          account,
          address: usdc.address,
          abi: fiatTokenAbi,
          functionName: "transferWithAuthorization",
          args: [b.from, b.to, b.value, b.validAfter, b.validBefore, b.nonce, bad.signature],
        }),
      ).rejects.toThrow(/invalid signature/);
    }
    expect(await balanceOf(refusing)).toBe(5_000_000n);
  });

  it("pauses and blacklists through the role helpers", async () => {
    const buyer = privateKeyToAccount(BUYER_KEY).address;
    const { publicClient } = await relayer();
    const tryTransfer = async () => {
      const { message, signature } = await signAuthorization(BUYER_KEY, buyer, PAYEE, 1n);
      const m = message;
      return publicClient.simulateContract({
        account: privateKeyToAccount(RELAYER_KEY),
        address: usdc.address,
        abi: fiatTokenAbi,
        functionName: "transferWithAuthorization",
        args: [m.from, m.to, m.value, m.validAfter, m.validBefore, m.nonce, signature],
      });
    };
    await pauseUsdc(anvil.rpcUrl, usdc);
    await expect(tryTransfer()).rejects.toThrow(/paused/);
    await unpauseUsdc(anvil.rpcUrl, usdc);
    await blacklist(anvil.rpcUrl, usdc, buyer);
    await expect(tryTransfer()).rejects.toThrow(/blacklisted/);
    await unBlacklist(anvil.rpcUrl, usdc, buyer);
    await expect(tryTransfer()).resolves.toBeDefined();
  });

  it("answers Multicall3 tryAggregate and aggregate3 at the canonical address", async () => {
    const { publicClient } = await relayer();
    const buyer = privateKeyToAccount(BUYER_KEY).address;
    const balanceCall = (who: Address) => ({
      target: usdc.address,
      callData: encodeFunctionData({ abi: fiatTokenAbi, functionName: "balanceOf", args: [who] }),
    });
    // tryAggregate is payable in the ABI, so viem wants simulateContract (an eth_call) rather than readContract.
    const { result: results } = await publicClient.simulateContract({
      address: MULTICALL3_ADDRESS,
      abi: multicall3Abi,
      functionName: "tryAggregate",
      // The last call hits a selector USDC does not have, so it must fail without failing the batch.
      args: [false, [balanceCall(buyer), balanceCall(PAYEE), { target: usdc.address, callData: "0xdeadbeef" as Hex }]],
    });
    expect(results.map((r) => r.success)).toEqual([true, true, false]);
    expect(BigInt(results[0]!.returnData)).toBe(await balanceOf(buyer));
    expect(BigInt(results[1]!.returnData)).toBe(await balanceOf(PAYEE));

    // viem's own multicall goes through aggregate3.
    const viaViem = await publicClient.multicall({
      contracts: [
        { address: usdc.address, abi: fiatTokenAbi, functionName: "balanceOf", args: [buyer] },
        { address: MULTICALL3_ADDRESS, abi: multicall3Abi, functionName: "getChainId" },
      ],
    });
    expect(viaViem.map((r) => r.status)).toEqual(["success", "success"]);
    expect(viaViem[1]!.result).toBe(BigInt(CHAIN_ID));
  });
});
