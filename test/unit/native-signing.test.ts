// The worker signs with libsecp256k1; the bytes must be exactly what viem's own signer makes.
import { expect, it } from "vitest";
import { parseTransaction, recoverTransactionAddress } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { withNativeSigning } from "../../src/evm/native-signing.js";

it("signs EIP-1559 transactions byte for byte as viem does, recoverable to the key's address", async () => {
  for (let i = 0; i < 25; i++) {
    const key = generatePrivateKey();
    const viemAccount = privateKeyToAccount(key);
    const native = withNativeSigning(viemAccount, key);
    const tx = {
      chainId: 84532,
      type: "eip1559" as const,
      nonce: i * 7,
      to: privateKeyToAccount(generatePrivateKey()).address,
      data: `0x${"ab".repeat(i * 10)}` as const,
      gas: 120_000n + BigInt(i),
      maxFeePerGas: 2_000_000_000n + BigInt(i),
      maxPriorityFeePerGas: 1_000_000n,
      value: 0n,
    };
    const ours = await native.signTransaction(tx);
    expect(ours).toBe(await viemAccount.signTransaction(tx));
    expect(await recoverTransactionAddress({ serializedTransaction: ours as never })).toBe(viemAccount.address);
    expect(parseTransaction(ours).nonce).toBe(i * 7);
  }
});
