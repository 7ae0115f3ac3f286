// The hand-rolled EIP-712 digest and signer recovery agree with viem's reference code.
import { hashTypedData, recoverTypedDataAddress } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import { keccakImplementation } from "../../src/evm/keccak.js";
import { parseEcdsa, recoverSigner } from "../../src/evm/signature.js";
import { toHex, transferAuthorizationDigest } from "../../src/evm/typed-data.js";
import { randomNonce, TRANSFER_TYPES } from "../support/payments.js";

describe("EIP-712 digest and recovery", () => {
  it("uses the native keccak on this machine", () => {
    expect(keccakImplementation).toBe("native");
  });

  it.each([0, 1, 2, 3, 4])("matches viem for random authorization #%i", async () => {
    const payer = privateKeyToAccount(generatePrivateKey());
    const domain = {
      name: "USD Coin",
      version: "2",
      chainId: 8453,
      verifyingContract: "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913" as const,
    };
    const auth = {
      from: payer.address,
      to: privateKeyToAccount(generatePrivateKey()).address,
      value: String(Math.floor(Math.random() * 1e12)),
      validAfter: "0",
      validBefore: String(2 ** 40),
      nonce: randomNonce(),
    };
    const message = { ...auth, value: BigInt(auth.value), validAfter: 0n, validBefore: BigInt(auth.validBefore) };
    const ours = toHex(transferAuthorizationDigest(domain, auth));
    expect(ours).toBe(hashTypedData({ domain, types: TRANSFER_TYPES, primaryType: "TransferWithAuthorization", message }));
    const signature = await payer.signTypedData({ domain, types: TRANSFER_TYPES, primaryType: "TransferWithAuthorization", message });
    const recovered = recoverSigner(transferAuthorizationDigest(domain, auth), parseEcdsa(signature)!);
    expect(recovered?.toLowerCase()).toBe(payer.address.toLowerCase());
    expect(
      await recoverTypedDataAddress({ domain, types: TRANSFER_TYPES, primaryType: "TransferWithAuthorization", message, signature }),
    ).toBe(payer.address);
  });
});

describe("transfer calldata", () => {
  it("picks the (v,r,s) overload for 65-byte signatures and the bytes overload otherwise, as viem's own resolution does", async () => {
    const { encodeFunctionData } = await import("viem");
    const { fiatTokenAbi } = await import("../../src/evm/fiat-token-abi.js");
    const { transferCalldata } = await import("../../src/evm/payment-reads.js");
    const auth = {
      from: privateKeyToAccount(generatePrivateKey()).address,
      to: privateKeyToAccount(generatePrivateKey()).address,
      value: "5",
      validAfter: "0",
      validBefore: "99",
      nonce: randomNonce(),
    };
    const base = [auth.from, auth.to, 5n, 0n, 99n, auth.nonce] as const;
    for (const v of [27, 28]) {
      const [r, s] = [randomNonce(), randomNonce()];
      const sig65 = `0x${r.slice(2)}${s.slice(2)}${v.toString(16)}` as const;
      expect(transferCalldata(auth, sig65)).toBe(
        encodeFunctionData({ abi: fiatTokenAbi, functionName: "transferWithAuthorization", args: [...base, v, r, s] }),
      );
    }
    // the largest uint256 and mixed-case hex are laid out as the encoder lays them out
    const max = ((1n << 256n) - 1n).toString();
    const big = { ...auth, value: max, validBefore: max, nonce: auth.nonce.toUpperCase().replace("0X", "0x") as `0x${string}` };
    const sig = `0x${"Ab".repeat(64)}1c` as const;
    expect(transferCalldata(big, sig)).toBe(
      encodeFunctionData({
        abi: fiatTokenAbi,
        functionName: "transferWithAuthorization",
        args: [auth.from, auth.to, BigInt(max), 0n, BigInt(max), auth.nonce, 28, `0x${"ab".repeat(32)}`, `0x${"ab".repeat(32)}`],
      }),
    );
    const long = `0x${"ab".repeat(100)}` as const;
    expect(transferCalldata(auth, long)).toBe(
      encodeFunctionData({ abi: fiatTokenAbi, functionName: "transferWithAuthorization", args: [...base, long] }),
    );
  });
});
