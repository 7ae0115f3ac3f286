// Solana fee payer keys (worker only): SOLANA_FEE_PAYER_KEY or the file SOLANA_FEE_PAYER_KEY_FILE
// names, each key either base58 of the 64-byte secret key or a JSON byte array (solana-keygen's
// format), several separated by whitespace or commas. Signing is Ed25519 through node:crypto,
// deterministic, so a crashed worker signs the same transaction to the same signature again.
// Errors name the variable and the key's position, never the key.
import { createPrivateKey, createPublicKey, randomBytes, sign, type KeyObject } from "node:crypto";
import { ConfigError, type Config } from "../config/config.js";
import { readKeySource } from "../config/key-source.js";
import { fromBase58, toBase58 } from "./wire-transaction.js";

export interface FeePayer {
  address: string;
  sign(message: Uint8Array): Uint8Array;
}

// DER prefix of a PKCS#8 Ed25519 private key; the 32-byte seed follows.
const PKCS8_ED25519 = Buffer.from("302e020100300506032b657004220420", "hex");

const privateKeyOf = (seed: Uint8Array): KeyObject =>
  createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, seed]), format: "der", type: "pkcs8" });
const publicKeyOf = (key: KeyObject): Buffer => createPublicKey(key).export({ format: "der", type: "spki" }).subarray(-32);

/** A new 64-byte secret key (seed ‖ public key), the form wallets and solana-keygen use. */
export function newSecretKey(): Uint8Array {
  const seed = randomBytes(32);
  return new Uint8Array(Buffer.concat([seed, publicKeyOf(privateKeyOf(seed))]));
}

export function feePayerFromSecret(secret: Uint8Array): FeePayer {
  if (secret.length !== 64) throw new Error("a Solana secret key is 64 bytes");
  const key = privateKeyOf(secret.subarray(0, 32));
  const publicKey = publicKeyOf(key);
  if (!publicKey.equals(Buffer.from(secret.subarray(32)))) throw new Error("the public half does not belong to the secret half");
  return { address: toBase58(publicKey), sign: (message) => new Uint8Array(sign(null, message, key)) };
}

function parseKey(token: string): Uint8Array {
  if (token.startsWith("[")) {
    const bytes = JSON.parse(token) as unknown;
    if (!Array.isArray(bytes) || !bytes.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) throw new Error("not a byte array");
    return Uint8Array.from(bytes as number[]);
  }
  return fromBase58(token);
}

export function loadFeePayerKeys(source: Config["feePayerKeySource"]): FeePayer[] {
  const { variable, text } = readKeySource(source, "SOLANA_FEE_PAYER_KEY");
  if (!text) return [];
  const tokens = text.match(/\[[^\]]*\]|[^\s,[\]]+/g) ?? [];
  const payers = tokens.map((t, i) => {
    try {
      return feePayerFromSecret(parseKey(t));
    } catch (err) {
      throw new ConfigError(variable, `key #${i + 1} is not a Solana secret key (${(err as Error).message})`);
    }
  });
  if (new Set(payers.map((p) => p.address)).size !== payers.length) throw new ConfigError(variable, "the same key is listed twice");
  return payers;
}
