// The account methods of the SIMULATED Solana RPC (LiteSVM behind it, not a validator): balances,
// account reads, program accounts and the faucet. The faucet's airdrop is a real transfer that
// lands in a slot, so confirmation flows see it as on devnet.
import {
  AccountRole,
  appendTransactionMessageInstruction,
  createTransactionMessage,
  generateKeyPairSigner,
  getBase64EncodedWireTransaction,
  pipe,
  setTransactionMessageFeePayerSigner,
  setTransactionMessageLifetimeUsingBlockhash,
  signTransactionMessageWithSigners,
  type Address,
  type Blockhash,
  type KeyPairSigner,
} from "@solana/kit";
import { encodeAccount } from "./account-json.js";
import { invalidParam, invalidParams } from "./rpc-errors.js";
import { addressAt, encodingOf, optionalBool, sliceOf, wireBytes, type MethodContext, type RpcMethod } from "./rpc-params.js";
import { uiTokenAmount } from "./token-accounts.js";
import { SYSTEM_PROGRAM } from "./transaction-json.js";
import { parseWireTransaction } from "./transaction-wire.js";

const MAX_MULTIPLE_ACCOUNTS = 100;

/** One getProgramAccounts filter: dataSize, or memcmp with base58 (default) or base64 bytes. */
function filterOf(f: unknown): (data: Uint8Array) => boolean {
  const spec = f as { dataSize?: unknown; memcmp?: { offset?: unknown; bytes?: unknown; encoding?: unknown } } | null;
  if (spec && typeof spec.dataSize === "number" && Number.isSafeInteger(spec.dataSize)) {
    const size = spec.dataSize;
    return (d) => d.length === size;
  }
  const m = spec?.memcmp;
  if (m && typeof m.offset === "number" && Number.isSafeInteger(m.offset) && m.offset >= 0 && typeof m.bytes === "string") {
    const offset = m.offset;
    let want: Uint8Array;
    if (m.encoding === "base64") want = wireBytes(m.bytes, "base64");
    else if (m.encoding === undefined || m.encoding === null || m.encoding === "base58") want = wireBytes(m.bytes, "base58");
    else throw invalidParams("unsupported memcmp encoding");
    return (d) => d.length >= offset + want.length && want.every((b, i) => d[offset + i] === b);
  }
  throw invalidParams("invalid filter");
}

export function accountMethods({ cluster, context, readConfig }: MethodContext): Record<string, RpcMethod> {
  let faucet: KeyPairSigner | null = null;

  async function requestAirdrop(to: Address, amount: bigint): Promise<string> {
    // A real faucet transfer: it lands in a slot and has a status, so confirmation flows work.
    faucet ??= await generateKeyPairSigner();
    cluster.airdrop(faucet.address, amount + 1_000_000_000n);
    const data = new Uint8Array(12);
    const view = new DataView(data.buffer);
    view.setUint32(0, 2, true);
    view.setBigUint64(4, amount, true);
    const latest = cluster.latestBlockhash("processed");
    const message = pipe(
      createTransactionMessage({ version: 0 }),
      (m) => setTransactionMessageFeePayerSigner(faucet!, m),
      (m) =>
        setTransactionMessageLifetimeUsingBlockhash(
          { blockhash: latest.blockhash as Blockhash, lastValidBlockHeight: latest.lastValidBlockHeight },
          m,
        ),
      (m) =>
        appendTransactionMessageInstruction(
          {
            programAddress: SYSTEM_PROGRAM as Address,
            accounts: [
              { address: faucet!.address, role: AccountRole.WRITABLE_SIGNER, signer: faucet! },
              { address: to, role: AccountRole.WRITABLE },
            ],
            data,
          },
          m,
        ),
    );
    const signed = await signTransactionMessageWithSigners(message);
    const parsed = parseWireTransaction(new Uint8Array(Buffer.from(getBase64EncodedWireTransaction(signed), "base64")));
    await cluster.send(parsed, { skipPreflight: true });
    return parsed.signature;
  }

  return {
    getBalance: (p) => {
      const a = addressAt(p, 0);
      const { commitment } = readConfig(p, 1);
      return { context: context(commitment), value: cluster.solBalance(a) };
    },
    getAccountInfo: (p) => {
      const a = addressAt(p, 0);
      const { c, commitment } = readConfig(p, 1);
      return { context: context(commitment), value: encodeAccount(cluster, cluster.account(a), encodingOf(c, "binary"), sliceOf(c)) };
    },
    getMultipleAccounts: (p) => {
      const list = p[0];
      if (!Array.isArray(list)) throw invalidParams("expected an array of addresses");
      if (list.length > MAX_MULTIPLE_ACCOUNTS) throw invalidParams(`Too many inputs provided; max ${MAX_MULTIPLE_ACCOUNTS}`);
      const addresses = list.map((_, i) => addressAt(list, i));
      const { c, commitment } = readConfig(p, 1);
      const encoding = encodingOf(c, "base64");
      const slice = sliceOf(c);
      return { context: context(commitment), value: addresses.map((a) => encodeAccount(cluster, cluster.account(a), encoding, slice)) };
    },
    getTokenAccountBalance: (p) => {
      const a = addressAt(p, 0);
      const { commitment } = readConfig(p, 1);
      const acc = cluster.account(a);
      if (!acc) throw invalidParam("could not find account");
      const token = cluster.readTokenAccount(a);
      if (!token) throw invalidParam("not a Token account");
      return { context: context(commitment), value: uiTokenAmount(token.token.amount, token.decimals) };
    },
    getMinimumBalanceForRentExemption: (p) => {
      const len = p[0];
      if (typeof len !== "number" || !Number.isSafeInteger(len) || len < 0 || len > 10 * 1024 * 1024)
        throw invalidParams("expected a data length");
      readConfig(p, 1);
      return cluster.svm.minimumBalanceForRentExemption(BigInt(len));
    },
    getProgramAccounts: (p) => {
      const program = addressAt(p, 0);
      const { c, commitment } = readConfig(p, 1);
      const encoding = encodingOf(c, "binary");
      const slice = sliceOf(c);
      const filters = c.filters ?? [];
      if (!Array.isArray(filters) || filters.length > 4) throw invalidParams("Too many filters provided; max 4");
      const tests = filters.map(filterOf);
      const accounts = cluster.svm
        .getProgramAccounts(program)
        .map((a) => ({ ...a, data: Uint8Array.from(a.data) }))
        .filter((a) => tests.every((t) => t(a.data)));
      const value = accounts.map((a) => ({ pubkey: a.address, account: encodeAccount(cluster, a, encoding, slice) }));
      return optionalBool(c, "withContext") ? { context: context(commitment), value } : value;
    },
    requestAirdrop: async (p) => {
      const to = addressAt(p, 0);
      const amount = p[1];
      if (typeof amount !== "number" || !Number.isSafeInteger(amount) || amount <= 0)
        throw invalidParams("lamports must be a positive u64");
      readConfig(p, 2);
      return requestAirdrop(to, BigInt(amount));
    },
  };
}
