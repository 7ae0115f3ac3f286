// Every reason /verify can give, produced through HTTP against the real USDC contract on anvil,
// for v1 and v2 bodies where both apply.
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeFunctionData, serializeErc6492Signature, type Address, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ANVIL_KEYS } from "../src/devnet/anvil.js";
import { sendTx } from "../src/devnet/contracts.js";
import { MULTICALL3_ADDRESS } from "../src/devnet/multicall3.js";
import { blacklist, fiatTokenAbi, unBlacklist } from "../src/devnet/usdc.js";
import { startTestApi } from "./support/api.js";
import { startTestChain, type TestChain } from "./support/chain.js";
import { now, signAsWallet, signAuthorization, v1Body, v2Body, type AuthorizationFields, type SignOptions } from "./support/payments.js";
import { deployAcceptingWallet, deployRefusingWallet } from "./support/wallets.js";

let chain: TestChain;
let api: Awaited<ReturnType<typeof startTestApi>>;
const payTo = privateKeyToAccount(ANVIL_KEYS[3]).address;
const buyer = privateKeyToAccount(ANVIL_KEYS[2]);
const PRICE = 10_000n; // 0.01 USDC
const NO_CODE_ASSET = "0x00000000000000000000000000000000000a55e7" as Address;

type Version = 1 | 2;
const NETWORK = { 1: "base-sepolia", 2: "eip155:84532" } as const;

async function body(version: Version, over: Partial<SignOptions> = {}, edit?: (b: any) => void) {
  const signed = await signAuthorization({ payer: buyer, payTo, value: PRICE, asset: chain.usdc.address, chainId: chain.chainId, ...over });
  const b: any = (version === 1 ? v1Body : v2Body)({
    ...signed,
    asset: over.asset ?? chain.usdc.address,
    payTo,
    amount: PRICE,
    network: NETWORK[version],
  });
  edit?.(b);
  return b;
}

const requirementsOf = (b: any) => b.paymentRequirements;
const acceptedOf = (b: any, version: Version) => (version === 1 ? b.paymentPayload : b.paymentPayload.accepted);

async function verify(b: unknown, headers: Record<string, string> = {}) {
  const res = await api.app.inject({ method: "POST", url: "/verify", payload: b as object, headers });
  return { status: res.statusCode, json: res.json() };
}

beforeAll(async () => {
  chain = await startTestChain();
  await chain.fund(buyer.address, "100");
  const networksFile = join(tmpdir(), `networks-${process.pid}-${Date.now()}.json`);
  writeFileSync(
    networksFile,
    JSON.stringify({
      networks: [
        {
          name: "base-sepolia",
          chainId: 84532,
          assets: [
            { address: chain.usdc.address, name: "USDC", version: "2", decimals: 6, symbol: "USDC" },
            // Allowed on purpose to reach the checks behind the allowlist:
            { address: MULTICALL3_ADDRESS, name: "USDC", version: "2", decimals: 6, symbol: "NOT3009" },
            { address: NO_CODE_ASSET, name: "USDC", version: "2", decimals: 6, symbol: "GHOST" },
          ],
        },
      ],
    }),
  );
  api = await startTestApi(chain, { NETWORKS_FILE: networksFile });
});

afterAll(async () => {
  await api?.close();
  await chain?.stop();
});

describe.each([1, 2] as const)("POST /verify v%i", (version) => {
  it("accepts a valid EOA payment and names the payer", async () => {
    const res = await verify(await body(version));
    expect(res).toEqual({ status: 200, json: { isValid: true, payer: buyer.address } });
  });

  it("unsupported_scheme when the requirements name another scheme", async () => {
    const res = await verify(
      await body(version, {}, (b) => ((requirementsOf(b).scheme = "upto"), (acceptedOf(b, version).scheme = "upto"))),
    );
    expect(res.json).toMatchObject({ isValid: false, invalidReason: "unsupported_scheme", payer: buyer.address });
  });

  it("invalid_exact_evm_scheme when the payload's scheme differs", async () => {
    const b = await body(version);
    if (version === 1) b.paymentPayload.scheme = "upto";
    else b.paymentPayload.accepted = { ...b.paymentPayload.accepted, scheme: "upto" };
    expect((await verify(b)).json).toMatchObject({ isValid: false, invalidReason: "invalid_exact_evm_scheme" });
  });

  it("invalid_network for a network this facilitator has not enabled", async () => {
    const other = version === 1 ? "base" : "eip155:8453";
    const res = await verify(
      await body(version, {}, (b) => ((requirementsOf(b).network = other), (acceptedOf(b, version).network = other))),
    );
    expect(res.json).toMatchObject({ isValid: false, invalidReason: "invalid_network" });
  });

  it("invalid_exact_evm_missing_eip712_domain without extra.name/version", async () => {
    const res = await verify(await body(version, {}, (b) => (requirementsOf(b).extra = {})));
    expect(res.json).toMatchObject({ isValid: false, invalidReason: "invalid_exact_evm_missing_eip712_domain" });
  });

  it("invalid_exact_evm_network_mismatch when payload and requirements disagree", async () => {
    const b = await body(version);
    if (version === 1) b.paymentPayload.network = "base";
    else b.paymentPayload.accepted = { ...b.paymentPayload.accepted, network: "eip155:8453" };
    expect((await verify(b)).json).toMatchObject({ isValid: false, invalidReason: "invalid_exact_evm_network_mismatch" });
  });

  it("asset_not_allowed for a token off the allowlist", async () => {
    const stranger = privateKeyToAccount(generatePrivateKey()).address;
    const res = await verify(await body(version, { asset: stranger }));
    expect(res.json).toMatchObject({ isValid: false, invalidReason: "asset_not_allowed" });
  });

  it("invalid_exact_evm_signature when someone else signed", async () => {
    const b = await body(version, { payer: privateKeyToAccount(ANVIL_KEYS[4]) });
    b.paymentPayload.payload.authorization.from = buyer.address;
    expect((await verify(b)).json).toMatchObject({ isValid: false, invalidReason: "invalid_exact_evm_signature", payer: buyer.address });
  });

  it("invalid_exact_evm_signature for a malleated high-s signature (the chain would reject it)", async () => {
    const b = await body(version);
    b.paymentPayload.payload.signature = malleate(b.paymentPayload.payload.signature);
    expect((await verify(b)).json).toMatchObject({ isValid: false, invalidReason: "invalid_exact_evm_signature" });
  });

  it("invalid_exact_evm_signature for v in {0,1}", async () => {
    const b = await body(version);
    const sig: string = b.paymentPayload.payload.signature;
    b.paymentPayload.payload.signature = sig.slice(0, 130) + (parseInt(sig.slice(130), 16) - 27).toString(16).padStart(2, "0");
    expect((await verify(b)).json).toMatchObject({ isValid: false, invalidReason: "invalid_exact_evm_signature" });
  });

  it("invalid_exact_evm_recipient_mismatch when `to` is not payTo", async () => {
    const res = await verify(await body(version, { payTo: buyer.address }));
    expect(res.json).toMatchObject({ isValid: false, invalidReason: "invalid_exact_evm_recipient_mismatch" });
  });

  it("..._valid_before when the authorization expires within 6 s", async () => {
    const res = await verify(await body(version, { validBefore: now() + 3n }));
    expect(res.json).toMatchObject({ isValid: false, invalidReason: "invalid_exact_evm_payload_authorization_valid_before" });
  });

  it("..._valid_after when the authorization is not valid yet", async () => {
    const res = await verify(await body(version, { validAfter: now() + 120n }));
    expect(res.json).toMatchObject({ isValid: false, invalidReason: "invalid_exact_evm_payload_authorization_valid_after" });
  });

  it("value reason when the signed value differs from the price (over- and under-payment)", async () => {
    const reason = version === 1 ? "invalid_exact_evm_authorization_value" : "invalid_exact_evm_payload_authorization_value_mismatch";
    expect((await verify(await body(version, { value: PRICE + 1n }))).json).toMatchObject({ isValid: false, invalidReason: reason });
    expect((await verify(await body(version, { value: PRICE - 1n }))).json).toMatchObject({ isValid: false, invalidReason: reason });
  });

  it("token name and version mismatches", async () => {
    const byName = await body(version, { name: "USD Coin" }, (b) => (requirementsOf(b).extra = { name: "USD Coin", version: "2" }));
    expect((await verify(byName)).json).toMatchObject({ isValid: false, invalidReason: "invalid_exact_evm_token_name_mismatch" });
    const byVersion = await body(version, { version: "1" }, (b) => (requirementsOf(b).extra = { name: "USDC", version: "1" }));
    expect((await verify(byVersion)).json).toMatchObject({ isValid: false, invalidReason: "invalid_exact_evm_token_version_mismatch" });
  });

  it("invalid_exact_evm_nonce_already_used for an authorization already used on chain", async () => {
    const b = await body(version);
    const { authorization, signature } = b.paymentPayload.payload;
    await submitDirectly(authorization, signature);
    expect((await verify(b)).json).toMatchObject({ isValid: false, invalidReason: "invalid_exact_evm_nonce_already_used" });
  });

  it("invalid_exact_evm_insufficient_balance for an unfunded payer", async () => {
    const poor = privateKeyToAccount(generatePrivateKey());
    const res = await verify(await body(version, { payer: poor }));
    expect(res.json).toMatchObject({ isValid: false, invalidReason: "invalid_exact_evm_insufficient_balance", payer: poor.address });
  });

  it("invalid_exact_evm_transaction_simulation_failed when the token refuses (payer blacklisted)", async () => {
    const payer = privateKeyToAccount(generatePrivateKey());
    await chain.fund(payer.address, "1");
    await blacklist(chain.rpcUrl, chain.usdc, payer.address);
    try {
      const res = await verify(await body(version, { payer }));
      expect(res.json).toMatchObject({ isValid: false, invalidReason: "invalid_exact_evm_transaction_simulation_failed" });
      expect(res.json.invalidMessage).toMatch(/blacklisted/);
    } finally {
      await unBlacklist(chain.rpcUrl, chain.usdc, payer.address);
    }
  });

  it("invalid_exact_evm_eip3009_not_supported for an allowed contract without EIP-3009", async () => {
    const res = await verify(await body(version, { asset: MULTICALL3_ADDRESS }));
    expect(res.json).toMatchObject({ isValid: false, invalidReason: "invalid_exact_evm_eip3009_not_supported" });
  });

  it("asset_not_deployed_contract for an allowed asset address without code", async () => {
    const res = await verify(await body(version, { asset: NO_CODE_ASSET }));
    expect(res.json).toMatchObject({ isValid: false, invalidReason: "asset_not_deployed_contract" });
  });

  it("a Permit2 payload is read by the Permit2 method: incomplete, a 400 naming the field; on v1, unsupported_payload_type", async () => {
    const b = await body(version);
    const { signature } = b.paymentPayload.payload;
    b.paymentPayload.payload = { signature, permit2Authorization: { from: buyer.address, nonce: "1" } };
    const incomplete = await verify(b);
    expect(incomplete.status).toBe(400);
    expect(incomplete.json.field).toBe("paymentPayload.payload.permit2Authorization.permitted");
    b.paymentPayload.payload.permit2Authorization = {
      from: buyer.address,
      permitted: { token: chain.usdc.address, amount: PRICE.toString() },
      spender: "0x402085c248EeA27D92E8b30b2C58ed07f9E20001",
      nonce: "1",
      deadline: String(now() + 300n),
      witness: { to: payTo, validAfter: "0" },
    };
    const complete = (await verify(b)).json;
    // v1 clients only sign EIP-3009; on v2 this one is checked for real and found unsigned.
    const reason = version === 1 ? "unsupported_payload_type" : "invalid_permit2_signature";
    expect(complete).toMatchObject({ isValid: false, invalidReason: reason, payer: buyer.address });
  });

  it("eip6492_factory_not_allowed for a counterfactual wallet from a factory off the allowlist", async () => {
    const b = await body(version);
    const factory = privateKeyToAccount(generatePrivateKey()).address;
    b.paymentPayload.payload.authorization.from = privateKeyToAccount(generatePrivateKey()).address;
    b.paymentPayload.payload.signature = serializeErc6492Signature({
      address: factory,
      data: "0xdeadbeef",
      signature: b.paymentPayload.payload.signature,
    });
    expect((await verify(b)).json).toMatchObject({ isValid: false, invalidReason: "eip6492_factory_not_allowed" });
  });

  it("nonce_already_used from the ledger for an authorization already claimed", async () => {
    const b = await body(version);
    const a = b.paymentPayload.payload.authorization;
    await api.app.inject({ method: "GET", url: "/healthz" });
    const { default: postgres } = await import("postgres");
    const sql = postgres(api.config.databaseUrl, { max: 1 });
    try {
      await sql`INSERT INTO settlements (chain_id, asset, payer, nonce, pay_to, value, valid_after, valid_before, signature, payload_sha256, x402_version, request_network)
        VALUES (84532, ${chain.usdc.address.toLowerCase()}, ${a.from.toLowerCase()}, ${a.nonce.toLowerCase()}, ${payTo.toLowerCase()}, ${a.value}, ${a.validAfter}, ${a.validBefore}, '0x', 'x', ${version}, ${NETWORK[version]})`;
    } finally {
      await sql.end();
    }
    // Still unused on chain: only the ledger knows.
    expect((await verify(b)).json).toMatchObject({ isValid: false, invalidReason: "invalid_exact_evm_nonce_already_used" });
    // The ledger is asked while the signature is recovered, yet a bad signature is still named first.
    b.paymentPayload.payload.signature = malleate(b.paymentPayload.payload.signature);
    expect((await verify(b)).json).toMatchObject({ isValid: false, invalidReason: "invalid_exact_evm_signature" });
  });
});

describe("ERC-1271 contract wallets", () => {
  const owner = privateKeyToAccount(ANVIL_KEYS[4]);

  async function walletBody(wallet: Address, signer = owner) {
    const signed = await signAsWallet({ wallet, signer, payTo, value: PRICE, asset: chain.usdc.address, chainId: chain.chainId });
    return v2Body({ ...signed, asset: chain.usdc.address, payTo, amount: PRICE, network: "eip155:84532" });
  }

  it("accepts a wallet whose isValidSignature approves", async () => {
    const wallet = await deployAcceptingWallet(chain.rpcUrl, owner.address);
    await chain.fund(wallet, "1");
    expect((await verify(await walletBody(wallet))).json).toEqual({ isValid: true, payer: wallet });
  });

  it("refuses a wallet whose isValidSignature refuses", async () => {
    const wallet = await deployRefusingWallet(chain.rpcUrl);
    await chain.fund(wallet, "1");
    expect((await verify(await walletBody(wallet))).json).toMatchObject({ isValid: false, invalidReason: "invalid_exact_evm_signature" });
  });

  it("refuses an accepting wallet's payment signed by someone other than its owner", async () => {
    const wallet = await deployAcceptingWallet(chain.rpcUrl, owner.address);
    await chain.fund(wallet, "1");
    const res = await verify(await walletBody(wallet, privateKeyToAccount(ANVIL_KEYS[1])));
    expect(res.json).toMatchObject({ isValid: false, invalidReason: "invalid_exact_evm_signature" });
  });
});

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
function malleate(sig: Hex): Hex {
  const s = BigInt(`0x${sig.slice(66, 130)}`);
  const v = parseInt(sig.slice(130), 16);
  return `${sig.slice(0, 66)}${(N - s).toString(16).padStart(64, "0")}${(v === 27 ? 28 : 27).toString(16)}` as Hex;
}

async function submitDirectly(a: AuthorizationFields, signature: Hex) {
  const data = encodeFunctionData({
    abi: fiatTokenAbi,
    functionName: "transferWithAuthorization",
    args: [a.from, a.to, BigInt(a.value), BigInt(a.validAfter), BigInt(a.validBefore), a.nonce, signature],
  });
  await sendTx(chain.rpcUrl, ANVIL_KEYS[1], chain.usdc.address, data);
}
