// The transaction methods of the SIMULATED Solana RPC (LiteSVM behind it, not a validator):
// simulate and send, statuses, and landed transactions by signature or address. Sends go through
// `SendFaults`, so tests can make the node lose a send or land it without telling the caller.
import { isAddress, isSignature, type Address } from "@solana/kit";
import { encodeAccount } from "./account-json.js";
import { describeError, DropConnection, invalidParam, invalidParams, RpcError } from "./rpc-errors.js";
import {
  addressAt,
  commitmentOf,
  configAt,
  encodingOf,
  optionalBool,
  optionalU64,
  parseTransactionParam,
  stringAt,
  type MethodContext,
  type RpcMethod,
} from "./rpc-params.js";
import { innerInstructionsJson, memoOf, metaJson, returnDataJson, transactionJson } from "./transaction-json.js";

const MAX_SIGNATURE_STATUSES = 256;

/** Misbehaviour queued for the next sendTransaction calls (see the server's `faults`). */
export interface SendFaults {
  /** Sends still to be answered with their signature and then lost. */
  dropsLeft: number;
  /** Sends to execute without the caller hearing of it: "drop" hangs up, "error" answers -32603. */
  silentLandings: ("drop" | "error")[];
}

export function transactionMethods({ cluster, context, readConfig }: MethodContext, faults: SendFaults): Record<string, RpcMethod> {
  return {
    simulateTransaction: async (p) => {
      const encoded = stringAt(p, 0);
      const { c, commitment } = readConfig(p, 1);
      const sigVerify = optionalBool(c, "sigVerify");
      const replaceRecentBlockhash = optionalBool(c, "replaceRecentBlockhash");
      if (sigVerify && replaceRecentBlockhash) throw invalidParams("sigVerify may not be used with replaceRecentBlockhash");
      const innerInstructions = optionalBool(c, "innerInstructions");
      const wanted = c.accounts as { addresses?: unknown; encoding?: unknown } | undefined;
      if (
        wanted !== undefined &&
        wanted !== null &&
        (!Array.isArray(wanted.addresses) || wanted.addresses.some((a) => typeof a !== "string" || !isAddress(a)))
      ) {
        throw invalidParams("accounts.addresses must be an array of addresses");
      }
      const accountEncoding = wanted ? encodingOf({ encoding: wanted.encoding ?? "base64" }, "base64") : "base64";
      if (accountEncoding === "binary" || accountEncoding === "base58")
        throw invalidParams("base58 encoding not supported for simulation accounts");
      const parsed = parseTransactionParam(encoded, c.encoding);
      const out = await cluster.simulate(parsed, { sigVerify, replaceRecentBlockhash });
      if (out.kind === "signature-failed") throw new RpcError(-32003, "Transaction signature verification failure");
      const keys = innerInstructions ? cluster.accountKeysOf(parsed.message)?.keys : null;
      const post = new Map((out.postAccounts ?? []).map((a) => [a.address as string, { ...a, data: Uint8Array.from(a.data) }]));
      return {
        context: context(commitment),
        value: {
          err: out.err,
          logs: out.logs,
          accounts: wanted
            ? (wanted.addresses as Address[]).map((a) => encodeAccount(cluster, post.get(a) ?? cluster.account(a), accountEncoding, null))
            : null,
          unitsConsumed: out.unitsConsumed,
          returnData: returnDataJson(out),
          innerInstructions: innerInstructions ? innerInstructionsJson(out.innerInstructions, keys ?? null) : null,
          replacementBlockhash: out.replacementBlockhash,
        },
      };
    },
    sendTransaction: async (p) => {
      const encoded = stringAt(p, 0);
      const { c } = readConfig(p, 1);
      const skipPreflight = optionalBool(c, "skipPreflight");
      optionalU64(c, "maxRetries");
      const parsed = parseTransactionParam(encoded, c.encoding);
      if (faults.dropsLeft > 0) {
        faults.dropsLeft--;
        return parsed.signature;
      }
      const silently = faults.silentLandings.shift();
      const out = await cluster.send(parsed, { skipPreflight });
      if (silently === "drop") throw new DropConnection();
      if (silently === "error") throw new RpcError(-32603, "Internal error");
      if (out.kind === "signature-failed") throw new RpcError(-32003, "Transaction signature verification failure");
      if (out.kind === "preflight-failed") {
        const s = out.simulation;
        throw new RpcError(-32002, `Transaction simulation failed: ${describeError(s.err!)}`, {
          accounts: null,
          err: s.err,
          innerInstructions: null,
          logs: s.logs,
          replacementBlockhash: null,
          returnData: returnDataJson(s),
          unitsConsumed: s.unitsConsumed,
        });
      }
      return out.signature;
    },
    getSignatureStatuses: (p) => {
      const list = p[0];
      if (!Array.isArray(list)) throw invalidParams("expected an array of signatures");
      if (list.length > MAX_SIGNATURE_STATUSES) throw invalidParams(`Too many inputs provided; max ${MAX_SIGNATURE_STATUSES}`);
      for (const s of list) if (typeof s !== "string" || !isSignature(s)) throw invalidParam("Invalid");
      const c = configAt(p, 1);
      const search = optionalBool(c, "searchTransactionHistory");
      return {
        context: context("processed"),
        value: (list as string[]).map((s) => {
          const st = cluster.statusOf(s, search);
          return st && { ...st, status: st.err === null ? { Ok: null } : { Err: st.err } };
        }),
      };
    },
    getSignaturesForAddress: (p) => {
      const a = addressAt(p, 0);
      const { c, commitment } = readConfig(p, 1);
      if (commitment === "processed") throw invalidParams("Method does not support commitment below `confirmed`");
      const limit = optionalU64(c, "limit") ?? 1000n;
      if (limit < 1n || limit > 1000n) throw invalidParams("Invalid limit; max 1000");
      const bound = (key: string) => {
        const v = c[key];
        if (v === undefined || v === null) return null;
        if (typeof v !== "string" || !isSignature(v)) throw invalidParam("Invalid");
        return v;
      };
      const before = bound("before");
      const until = bound("until");
      let list = cluster.transactionsOf(a, commitment);
      if (before) {
        const i = list.findIndex((t) => t.parsed.signature === before);
        list = i < 0 ? [] : list.slice(i + 1);
      }
      if (until) {
        const i = list.findIndex((t) => t.parsed.signature === until);
        if (i >= 0) list = list.slice(0, i);
      }
      return list.slice(0, Number(limit)).map((t) => ({
        signature: t.parsed.signature,
        slot: t.slot,
        err: t.err,
        memo: memoOf(t),
        blockTime: t.blockTime,
        confirmationStatus: cluster.statusOf(t.parsed.signature, true)?.confirmationStatus ?? null,
      }));
    },
    getTransaction: (p) => {
      const sig = stringAt(p, 0);
      if (!isSignature(sig)) throw invalidParam("Invalid");
      // The legacy form passes the encoding itself as the second parameter.
      const c = typeof p[1] === "string" ? { encoding: p[1] } : configAt(p, 1);
      const commitment = commitmentOf(c);
      if (commitment === "processed") throw invalidParams("Method does not support commitment below `confirmed`");
      const encoding = (c.encoding ?? "json") as string;
      if (!["json", "jsonParsed", "base64", "base58"].includes(encoding)) throw invalidParams(`unsupported encoding: ${encoding}`);
      const maxVersion = optionalU64(c, "maxSupportedTransactionVersion");
      const t = cluster.landedTransaction(sig, commitment);
      if (!t) return null;
      const version = t.parsed.message.version;
      if (version === 0 && maxVersion === null) {
        throw new RpcError(
          -32015,
          'Transaction version (0) is not supported by the requesting client. Please try the request again with the following configuration parameter: "maxSupportedTransactionVersion": 0',
        );
      }
      return {
        slot: t.slot,
        blockTime: t.blockTime,
        transaction: transactionJson(t, encoding),
        meta: metaJson(t, encoding),
        version: maxVersion === null ? undefined : version,
      };
    },
  };
}
