// A Permit2 payer that is a contract wallet (ERC-1271): the facilitator checks the signature the
// way Permit2 itself will, through the wallet's isValidSignature, and settles it; a wallet that
// refuses is named invalid_permit2_signature before anything is simulated or claimed.
import { encodeFunctionData, erc20Abi, hashTypedData, maxUint256, parseEther, type Address } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { beforeAll, expect, it } from "vitest";
import { deployPermit2Stack, PERMIT2_ADDRESS, type Permit2Stack } from "../src/devnet/permit2.js";
import { startFacilitator } from "./support/facilitator.js";
import { useLab } from "./support/lab.js";
import { confirmedRows, permit2NetworksFile, permit2NonceUsed, tokenBalance } from "./support/permit2-merchant.js";
import { permit2Payment } from "./support/permit2-payments.js";
import { deployAcceptingWallet, deployRefusingWallet } from "./support/wallets.js";

const PRICE = 10_000n;
const lab = useLab();
let stack: Permit2Stack;

beforeAll(async () => {
  // Before any facilitator: placing Permit2 briefly switches the chain id.
  stack = await deployPermit2Stack(lab.chain.rpcUrl);
});

/** A wallet holding tokens that approved Permit2 (sent as the wallet itself, impersonated). */
async function fundedWallet(wallet: Address) {
  await stack.mint(wallet, 1_000_000n);
  const test = lab.chain.test;
  await test.setBalance({ address: wallet, value: parseEther("1") });
  await test.impersonateAccount({ address: wallet });
  await test.sendUnsignedTransaction({
    from: wallet,
    to: stack.token.address,
    data: encodeFunctionData({ abi: erc20Abi, functionName: "approve", args: [PERMIT2_ADDRESS, maxUint256] }),
  });
  await test.stopImpersonatingAccount({ address: wallet });
}

it("an ERC-1271 wallet's payment verifies through isValidSignature and settles once; a refusing wallet is invalid_permit2_signature", async () => {
  lab.fac = await startFacilitator(lab.chain, { NETWORKS_FILE: permit2NetworksFile(lab.chain, stack) });
  const owner = privateKeyToAccount(generatePrivateKey());
  const payTo = privateKeyToAccount(generatePrivateKey()).address;
  const common = { token: stack.token, amount: PRICE, payTo, chainId: lab.chain.chainId };
  // The test wallet accepts its owner's signature over the digest itself.
  const signAsOwner = (t: Parameters<Parameters<typeof permit2Payment>[0]["sign"]>[0]) => owner.sign({ hash: hashTypedData(t) });

  const wallet = await deployAcceptingWallet(lab.chain.rpcUrl, owner.address);
  await fundedWallet(wallet);
  const paid = await permit2Payment({ from: wallet, sign: signAsOwner, ...common });
  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${lab.fac!.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return { status: res.status, json: await res.json() };
  };
  expect((await post("/verify", paid.body)).json).toEqual({ isValid: true, payer: wallet });
  const settled = await post("/settle", paid.body);
  expect(settled.json).toMatchObject({ success: true, payer: wallet, transaction: expect.stringMatching(/^0x[0-9a-f]{64}$/) });
  const [row] = await confirmedRows(lab.fac, wallet);
  expect(row).toMatchObject({ method: "permit2", settled_tx: settled.json.transaction });
  expect(await tokenBalance(lab.chain, stack.token.address, wallet)).toBe(1_000_000n - PRICE);
  expect(await tokenBalance(lab.chain, stack.token.address, payTo)).toBe(PRICE);
  expect(await permit2NonceUsed(lab.chain, wallet, paid.nonce)).toBe(true);

  // The same owner's signature, but the wallet refuses it: Permit2 would too.
  const refusing = await deployRefusingWallet(lab.chain.rpcUrl);
  await fundedWallet(refusing);
  const refused = await permit2Payment({ from: refusing, sign: signAsOwner, ...common });
  expect((await post("/verify", refused.body)).json).toEqual({
    isValid: false,
    invalidReason: "invalid_permit2_signature",
    payer: refusing,
  });
  expect((await post("/settle", refused.body)).json).toMatchObject({ success: false, errorReason: "invalid_permit2_signature" });
  expect(await tokenBalance(lab.chain, stack.token.address, refusing)).toBe(1_000_000n);
  const rows = await lab.fac.sql`select id from settlements where payer = ${refusing.toLowerCase()}`;
  expect(rows).toHaveLength(0);
});
