// Accounts as the SIMULATED Solana RPC (LiteSVM behind it, not a validator) writes them in JSON:
// base58, base64 or jsonParsed, where a token account or mint is shown decoded the way a node
// shows it and any other account falls back to base64.
import type { Address } from "@solana/kit";
import { toBase58 } from "../../svm/wire-transaction.js";
import type { LocalCluster } from "./local-cluster.js";
import { invalidParams } from "./rpc-errors.js";
import type { AccountEncoding } from "./rpc-params.js";
import { decodeMintData, decodeTokenAccountData, tokenProgramName, uiTokenAmount } from "./token-accounts.js";

// Accounts a validator never collects rent from report this rent epoch.
const RENT_EXEMPT_EPOCH = 18_446_744_073_709_551_615n;

export const toBase64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");

export interface AccountLike {
  lamports: bigint;
  programAddress: Address;
  executable: boolean;
  data: Uint8Array;
}

/** What jsonParsed shows for a token account or mint (decimals come from the mint, as a node does). */
function parsedTokenData(cluster: LocalCluster, a: AccountLike): unknown | null {
  const token = decodeTokenAccountData(a.programAddress, a.data);
  if (token) {
    const decimals = cluster.readMint(token.mint)?.mint.decimals ?? 0;
    const info: Record<string, unknown> = {
      isNative: token.isNative.__option === "Some",
      mint: token.mint,
      owner: token.owner,
      state: token.state === 2 ? "frozen" : "initialized",
      tokenAmount: uiTokenAmount(token.amount, decimals),
    };
    if (token.delegate.__option === "Some") {
      info.delegate = token.delegate.value;
      info.delegatedAmount = uiTokenAmount(token.delegatedAmount, decimals);
    }
    if (token.closeAuthority.__option === "Some") info.closeAuthority = token.closeAuthority.value;
    if (token.isNative.__option === "Some") info.rentExemptReserve = uiTokenAmount(token.isNative.value, decimals);
    return { program: tokenProgramName(a.programAddress), parsed: { type: "account", info }, space: a.data.length };
  }
  const mint = decodeMintData(a.programAddress, a.data);
  if (mint) {
    const info = {
      mintAuthority: mint.mintAuthority.__option === "Some" ? mint.mintAuthority.value : null,
      supply: mint.supply.toString(),
      decimals: mint.decimals,
      isInitialized: mint.isInitialized,
      freezeAuthority: mint.freezeAuthority.__option === "Some" ? mint.freezeAuthority.value : null,
    };
    return { program: tokenProgramName(a.programAddress), parsed: { type: "mint", info }, space: a.data.length };
  }
  return null;
}

export function encodeAccount(
  cluster: LocalCluster,
  a: AccountLike | null,
  encoding: AccountEncoding,
  slice: ((d: Uint8Array) => Uint8Array) | null,
) {
  if (!a) return null;
  let data: unknown;
  const parsed = encoding === "jsonParsed" && !slice ? parsedTokenData(cluster, a) : null;
  if (parsed) data = parsed;
  else {
    const bytes = slice ? slice(a.data) : a.data;
    if (encoding === "base58" || encoding === "binary") {
      if (bytes.length > 128)
        throw invalidParams("Encoded binary (base 58) data should be less than 128 bytes, please use Base64 encoding.");
      data = encoding === "binary" ? toBase58(bytes) : [toBase58(bytes), "base58"];
    } else data = [toBase64(bytes), "base64"];
  }
  return {
    data,
    executable: a.executable,
    lamports: a.lamports,
    owner: a.programAddress,
    rentEpoch: RENT_EXEMPT_EPOCH,
    space: a.data.length,
  };
}
