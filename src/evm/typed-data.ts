// EIP-712 digest of a TransferWithAuthorization, computed by hand: the domain separator of each
// (chain, token, name, version) is hashed once and reused, leaving two keccaks per verify.
import { stringToBytes, type Address, type Hex } from "viem";
import { hexWord, uintWord, writeWord } from "./abi-words.js";
import { keccak256 } from "./keccak.js";

/** An EIP-3009 authorization as signed: addresses, decimal amounts and times, a 32-byte nonce. */
export interface Authorization {
  from: Address;
  to: Address;
  value: string;
  validAfter: string;
  validBefore: string;
  nonce: Hex;
}

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

const word = (value: bigint | string): Buffer => Buffer.from(typeof value === "bigint" ? uintWord(value) : hexWord(value.slice(2)), "hex");

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

// The struct (type hash + six words) and the final "\x19\x01" ‖ separator ‖ struct hash are
// written into buffers of their own per call: hashing then reads them without any concatenation.
const STRUCT_BYTES = 7 * 32;

export function transferAuthorizationDigest(domain: Eip712Domain, auth: Authorization): Buffer {
  const struct = Buffer.allocUnsafe(STRUCT_BYTES);
  TRANSFER_TYPEHASH.copy(struct, 0);
  writeWord(struct, 32, auth.from.slice(2));
  writeWord(struct, 64, auth.to.slice(2));
  writeWord(struct, 96, BigInt(auth.value).toString(16));
  writeWord(struct, 128, BigInt(auth.validAfter).toString(16));
  writeWord(struct, 160, BigInt(auth.validBefore).toString(16));
  writeWord(struct, 192, auth.nonce.slice(2));
  const message = Buffer.allocUnsafe(66);
  message[0] = 0x19;
  message[1] = 0x01;
  domainSeparator(domain).copy(message, 2);
  keccak256(struct).copy(message, 34);
  return keccak256(message);
}

export const toHex = (buf: Uint8Array): Hex => `0x${Buffer.from(buf).toString("hex")}`;
