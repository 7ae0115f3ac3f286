// Token-program account data as the SIMULATED Solana cluster (LiteSVM, not a validator) and its
// RPC read it: which bytes are an initialized mint or token account under either token program,
// and amounts in the ui form a node reports them in.
import { address as toAddress, type Address } from "@solana/kit";
import { AccountState, getMintDecoder, getTokenDecoder, TOKEN_PROGRAM_ADDRESS, type Mint, type Token } from "@solana-program/token";
import type { TokenProgramName, UiTokenAmount } from "./cluster-types.js";

export const TOKEN_2022_PROGRAM_ADDRESS = toAddress("TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb");
const MINT_SIZE = 82;
const TOKEN_ACCOUNT_SIZE = 165;
// Token-2022 accounts with extensions put an account-type byte right after the 165-byte base.
const ACCOUNT_TYPE_MINT = 1;
const ACCOUNT_TYPE_ACCOUNT = 2;

export function tokenProgramAddress(name: TokenProgramName): Address {
  return name === "token-2022" ? TOKEN_2022_PROGRAM_ADDRESS : TOKEN_PROGRAM_ADDRESS;
}

export function isTokenProgram(owner: string): boolean {
  return owner === TOKEN_PROGRAM_ADDRESS || owner === TOKEN_2022_PROGRAM_ADDRESS;
}

/** The program name jsonParsed reports for a token program's accounts and instructions. */
export function tokenProgramName(owner: string) {
  return owner === TOKEN_2022_PROGRAM_ADDRESS ? "spl-token-2022" : "spl-token";
}

/** The first `size` bytes when the account is exactly that size, or a Token-2022 one extended past the base as `accountType`. */
function baseData(owner: string, data: Uint8Array, size: number, accountType: number): Uint8Array | null {
  if (!isTokenProgram(owner)) return null;
  const extended = owner === TOKEN_2022_PROGRAM_ADDRESS && data.length > TOKEN_ACCOUNT_SIZE && data[TOKEN_ACCOUNT_SIZE] === accountType;
  return data.length === size || extended ? data.subarray(0, size) : null;
}

/** An initialized Mint in an account of this owner and data, or null (what jsonParsed calls a "mint"). */
export function decodeMintData(owner: string, data: Uint8Array): Mint | null {
  const base = baseData(owner, data, MINT_SIZE, ACCOUNT_TYPE_MINT);
  if (!base) return null;
  const mint = getMintDecoder().decode(base);
  return mint.isInitialized ? mint : null;
}

/** An initialized token account in an account of this owner and data, or null. */
export function decodeTokenAccountData(owner: string, data: Uint8Array): Token | null {
  const base = baseData(owner, data, TOKEN_ACCOUNT_SIZE, ACCOUNT_TYPE_ACCOUNT);
  if (!base) return null;
  const token = getTokenDecoder().decode(base);
  return token.state === AccountState.Uninitialized ? null : token;
}

export function uiTokenAmount(amount: bigint, decimals: number): UiTokenAmount {
  const digits = amount.toString().padStart(decimals + 1, "0");
  const whole = digits.slice(0, digits.length - decimals);
  const fraction = digits.slice(digits.length - decimals).replace(/0+$/, "");
  const uiAmountString = fraction ? `${whole}.${fraction}` : whole;
  return { amount: amount.toString(), decimals, uiAmount: Number(uiAmountString), uiAmountString };
}
