// EIP-712 digest of a TransferWithAuthorization, computed by hand: the domain separator of each
// (chain, token, name, version) is hashed once and reused, leaving two keccaks per verify.
import { stringToBytes, type Address, type Hex } from "viem";
import { keccak256 } from "./keccak.js";
import type { Authorization } from "../x402/wire.js";

const typeHash = (s: string) => keccak256(stringToBytes(s));
const DOMAIN_TYPEHASH = typeHash("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
const TRANSFER_TYPEHASH = typeHash(
  "TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)",
);

export interface Eip712Domain {
  name: string;
  version: string;
  chainId: number;
  verifyingContract: Address;
}

function word(value: bigint | string): Buffer {
  const hex = typeof value === "bigint" ? value.toString(16) : value.slice(2);
  return Buffer.from(hex.padStart(64, "0"), "hex");
}

const separators = new Map<string, Buffer>();

export function domainSeparator(domain: Eip712Domain): Buffer {
  const key = `${domain.chainId}|${domain.verifyingContract.toLowerCase()}|${domain.name}|${domain.version}`;
  let sep = separators.get(key);
  if (!sep) {
    sep = keccak256(
      Buffer.concat([
        DOMAIN_TYPEHASH,
        keccak256(stringToBytes(domain.name)),
        keccak256(stringToBytes(domain.version)),
        word(BigInt(domain.chainId)),
        word(domain.verifyingContract),
      ]),
    );
    // Bounded: names and versions come from requests, so an attacker could otherwise grow it.
    if (separators.size > 1024) separators.clear();
    separators.set(key, sep);
  }
  return sep;
}

export function transferAuthorizationDigest(domain: Eip712Domain, auth: Authorization): Buffer {
  const structHash = keccak256(
    Buffer.concat([
      TRANSFER_TYPEHASH,
      word(auth.from),
      word(auth.to),
      word(BigInt(auth.value)),
      word(BigInt(auth.validAfter)),
      word(BigInt(auth.validBefore)),
      word(auth.nonce),
    ]),
  );
  return keccak256(Buffer.concat([Buffer.from([0x19, 0x01]), domainSeparator(domain), structHash]));
}

export const toHex = (buf: Uint8Array): Hex => `0x${Buffer.from(buf).toString("hex")}`;
