// Ed25519 checks of a transaction's required signatures (node:crypto; no cluster involved).
import { createPublicKey, verify } from "node:crypto";
import type { WireTransaction } from "./wire-transaction.js";
import { fromBase58 } from "./wire-transaction.js";

// DER prefix of an SPKI Ed25519 public key; the 32 key bytes follow.
const SPKI_ED25519 = Buffer.from("302a300506032b6570032100", "hex");

export function ed25519Valid(address: string, signature: Uint8Array, message: Uint8Array): boolean {
  try {
    const raw = fromBase58(address);
    if (raw.length !== 32 || signature.length !== 64) return false;
    const key = createPublicKey({ key: Buffer.concat([SPKI_ED25519, raw]), format: "der", type: "spki" });
    return verify(null, message, key, signature);
  } catch {
    return false;
  }
}

/** Whether every required signer but the fee payer (account 0, which signs last) has signed this message. */
export function othersSigned(tx: WireTransaction): boolean {
  const { staticAccounts, header } = tx.message;
  const message = Uint8Array.from(tx.transaction.messageBytes);
  for (let i = 1; i < header.numSignerAccounts; i++) {
    const signer = staticAccounts[i];
    const signature = signer ? tx.transaction.signatures[signer] : undefined;
    if (!signer || !signature || !ed25519Valid(signer, Uint8Array.from(signature), message)) return false;
  }
  return true;
}
