// Payers whose wallet does not exist yet (ERC-6492): the signature carries the factory call that
// creates it. With the factory allowlisted, the relayer deploys the wallet and settles in one
// transaction through Multicall3, for EIP-3009 and for Permit2 alike; once the wallet exists the
// wrapper is dropped and the payment goes straight to the token or the proxy. A factory off the
// allowlist, or a signature the wallet will not accept, is refused before anything is claimed.
import { getAddress, hashTypedData, type Address, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { beforeAll, expect, it } from "vitest";
import { deployPermit2Stack, PERMIT2_ADDRESS, X402_EXACT_PERMIT2_PROXY, type Permit2Stack } from "../src/devnet/permit2.js";
import { MULTICALL3 } from "../src/evm/multicall.js";
import { startFacilitator } from "./support/facilitator.js";
import { useLab } from "./support/lab.js";
import { signAsWallet, v2Body } from "./support/payments.js";
import { confirmedRows, permit2NetworksFile, permit2NonceUsed, tokenBalance } from "./support/permit2-merchant.js";
import { permit2Payment } from "./support/permit2-payments.js";
import { counterfactualWallet, deployWalletFactory } from "./support/wallets.js";

const PRICE = 10_000n;
const lab = useLab();
let stack: Permit2Stack;
let factory: Address;

beforeAll(async () => {
  // Before any facilitator: placing Permit2 briefly switches the chain id.
  stack = await deployPermit2Stack(lab.chain.rpcUrl);
  factory = await deployWalletFactory(lab.chain.rpcUrl);
});

const start = async () => {
  lab.fac = await startFacilitator(lab.chain, { NETWORKS_FILE: permit2NetworksFile(lab.chain, stack, { eip6492Factories: [factory] }) });
};

async function post(path: string, body: unknown) {
  const res = await fetch(`${lab.fac!.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

const hasCode = async (a: Address) => ((await lab.chain.client.getCode({ address: a })) ?? "0x") !== "0x";
const txTo = async (hash: Hex) => getAddress((await lab.chain.client.getTransaction({ hash })).to!);

/** A Permit2 payment from `from`, its digest signed raw by `owner` (what the test wallet checks). */
function permit2From(from: Address, owner: ReturnType<typeof privateKeyToAccount>, payTo: Address, wrap = (s: Hex) => s) {
  return permit2Payment({
    from,
    sign: async (t) => wrap(await owner.sign({ hash: hashTypedData(t) })),
    token: stack.token,
    amount: PRICE,
    payTo,
    chainId: lab.chain.chainId,
  });
}

it("EIP-3009: a wallet that does not exist yet is deployed and charged in one transaction", async () => {
  await start();
  const owner = privateKeyToAccount(generatePrivateKey());
  const payTo = privateKeyToAccount(generatePrivateKey()).address;
  const wallet = await counterfactualWallet(lab.chain.rpcUrl, factory, owner.address);
  await lab.chain.fund(wallet.address, "1");
  const asset = lab.chain.usdc.address;
  const signed = await signAsWallet({ wallet: wallet.address, signer: owner, payTo, value: PRICE, asset, chainId: lab.chain.chainId });
  const body = v2Body({ ...signed, signature: wallet.wrap(signed.signature), asset, payTo, amount: PRICE, network: "eip155:84532" });

  expect((await post("/verify", body)).json).toEqual({ isValid: true, payer: wallet.address });
  expect(await hasCode(wallet.address)).toBe(false);
  const settled = await post("/settle", body);
  expect(settled.json).toMatchObject({ success: true, payer: wallet.address, transaction: expect.stringMatching(/^0x[0-9a-f]{64}$/) });
  expect(await txTo(settled.json.transaction)).toBe(MULTICALL3);
  expect(await hasCode(wallet.address)).toBe(true);
  expect(await lab.chain.balanceOf(wallet.address)).toBe(1_000_000n - PRICE);
  expect(await lab.chain.balanceOf(payTo)).toBe(PRICE);
  // A replay is answered from the row: spent, naming the real transaction.
  const again = await post("/settle", body);
  expect(again.json).toMatchObject({
    success: false,
    errorReason: "invalid_exact_evm_nonce_already_used",
    transaction: settled.json.transaction,
  });
});

it("Permit2: a wallet that approves Permit2 as it is created pays from its first transaction; later payments go straight to the proxy", async () => {
  await start();
  const owner = privateKeyToAccount(generatePrivateKey());
  const payTo = privateKeyToAccount(generatePrivateKey()).address;
  const wallet = await counterfactualWallet(lab.chain.rpcUrl, factory, owner.address, {
    token: stack.token.address,
    spender: PERMIT2_ADDRESS,
  });
  await stack.mint(wallet.address, 1_000_000n);

  const first = await permit2From(wallet.address, owner, payTo, wallet.wrap);
  expect((await post("/verify", first.body)).json).toEqual({ isValid: true, payer: wallet.address });
  const settled = await post("/settle", first.body);
  expect(settled.json).toMatchObject({ success: true, payer: wallet.address, transaction: expect.stringMatching(/^0x[0-9a-f]{64}$/) });
  expect(await txTo(settled.json.transaction)).toBe(MULTICALL3);
  expect(await hasCode(wallet.address)).toBe(true);
  expect(await permit2NonceUsed(lab.chain, wallet.address, first.nonce)).toBe(true);
  const [row] = await confirmedRows(lab.fac!, wallet.address);
  expect(row).toMatchObject({ method: "permit2", settled_tx: settled.json.transaction });
  expect((await post("/settle", first.body)).json).toMatchObject({
    success: false,
    errorReason: "permit2_invalid_nonce",
    transaction: settled.json.transaction,
  });

  // The client still wraps its signatures: the wallet exists now, so the wrapper is dropped.
  const second = await permit2From(wallet.address, owner, payTo, wallet.wrap);
  expect((await post("/verify", second.body)).json).toEqual({ isValid: true, payer: wallet.address });
  const direct = await post("/settle", second.body);
  expect(direct.json).toMatchObject({ success: true });
  expect(await txTo(direct.json.transaction)).toBe(getAddress(X402_EXACT_PERMIT2_PROXY));
  expect(await tokenBalance(lab.chain, stack.token.address, wallet.address)).toBe(1_000_000n - 2n * PRICE);
  expect(await tokenBalance(lab.chain, stack.token.address, payTo)).toBe(2n * PRICE);
});

it("Permit2: a factory off the allowlist, or a signature the new wallet would refuse, is refused with nothing claimed or deployed", async () => {
  await start();
  const owner = privateKeyToAccount(generatePrivateKey());
  const stranger = privateKeyToAccount(generatePrivateKey());
  const payTo = privateKeyToAccount(generatePrivateKey()).address;
  const approves = { token: stack.token.address, spender: PERMIT2_ADDRESS };
  const wallet = await counterfactualWallet(lab.chain.rpcUrl, factory, owner.address, approves);
  await stack.mint(wallet.address, 1_000_000n);

  const otherFactory = await deployWalletFactory(lab.chain.rpcUrl);
  const elsewhere = await counterfactualWallet(lab.chain.rpcUrl, otherFactory, owner.address, approves);
  await stack.mint(elsewhere.address, 1_000_000n);
  const offList = await permit2From(elsewhere.address, owner, payTo, elsewhere.wrap);
  const refusedFactory = { isValid: false, invalidReason: "eip6492_factory_not_allowed", payer: elsewhere.address };
  expect((await post("/verify", offList.body)).json).toEqual(refusedFactory);
  expect((await post("/settle", offList.body)).json).toMatchObject({ success: false, errorReason: "eip6492_factory_not_allowed" });

  const forged = await permit2From(wallet.address, stranger, payTo, wallet.wrap);
  const refusedSignature = { isValid: false, invalidReason: "invalid_permit2_signature", payer: wallet.address };
  expect((await post("/verify", forged.body)).json).toEqual(refusedSignature);
  expect((await post("/settle", forged.body)).json).toMatchObject({ success: false, errorReason: "invalid_permit2_signature" });

  for (const w of [wallet.address, elsewhere.address]) {
    expect(await hasCode(w)).toBe(false);
    expect(await tokenBalance(lab.chain, stack.token.address, w)).toBe(1_000_000n);
    expect(await lab.fac!.sql`select id from settlements where payer = ${w.toLowerCase()}`).toHaveLength(0);
  }
});
