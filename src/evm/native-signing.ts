// Transaction signing through libsecp256k1 (the `secp256k1` package's native prebuild) instead
// of viem's pure-JS signer: the worker signs every settlement, and the JS signer was its largest
// single CPU cost under load. Both sign deterministically (RFC 6979) with low s, so the bytes are
// the same (test/unit/native-signing.test.ts compares them); where the prebuild cannot load the
// package falls back to JS and only the speed differs.
import { createRequire } from "node:module";
import { bytesToHex, hexToBytes, serializeTransaction, type Hex, type TransactionSerializable } from "viem";
import type { PrivateKeyAccount } from "viem/accounts";
import { keccak256 } from "./keccak.js";

interface Secp256k1 {
  ecdsaSign(msg32: Uint8Array, privateKey: Uint8Array): { signature: Uint8Array; recid: number };
}
const secp256k1 = createRequire(import.meta.url)("secp256k1") as Secp256k1;

/** The account, with signTransaction done natively; everything else is viem's. */
export function withNativeSigning(account: PrivateKeyAccount, privateKey: Hex): PrivateKeyAccount {
  const key = hexToBytes(privateKey);
  return {
    ...account,
    async signTransaction(tx, options) {
      // A custom serializer (a chain's own format) stays with viem.
      if (options?.serializer) return account.signTransaction(tx, options);
      const unsigned = serializeTransaction(tx as TransactionSerializable);
      const { signature, recid } = secp256k1.ecdsaSign(keccak256(hexToBytes(unsigned)), key);
      return serializeTransaction(tx as TransactionSerializable, {
        r: bytesToHex(signature.subarray(0, 32)),
        s: bytesToHex(signature.subarray(32, 64)),
        yParity: recid,
      }) as never;
    },
  };
}
