// The SIMULATED Solana cluster (LiteSVM behind a Solana JSON-RPC server) seen only through
// @solana/kit's createSolanaRpc and the official x402 Solana client, the way production code sees
// a real node: payments land once, expired or unsigned transactions never land, confirmation
// advances with slots, fees are a validator's, the fault hooks do what they say, and garbage in
// gets JSON-RPC errors out.
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  appendTransactionMessageInstructions,
  createKeyPairSignerFromBytes,
  createTransactionMessage,
  generateKeyPairSigner,
  getBase58Decoder,
  getBase58Encoder,
  getBase64EncodedWireTransaction,
  getBase64Encoder,
  getTransactionDecoder,
  isSolanaError,
  partiallySignTransaction,
  pipe,
  setTransactionMessageFeePayerSigner,
  setTransactionMessageLifetimeUsingBlockhash,
  signTransactionMessageWithSigners,
  type Address,
  type Base64EncodedWireTransaction,
  type KeyPairSigner,
  type Signature,
} from "@solana/kit";
import { ExactSvmScheme } from "@x402/svm/exact/client";
import { getSetComputeUnitPriceInstruction } from "@solana-program/compute-budget";
import { findAssociatedTokenPda, TOKEN_PROGRAM_ADDRESS } from "@solana-program/token";
import { TOKEN_2022_PROGRAM_ADDRESS } from "../src/devnet/solana/local-cluster.js";
import { fundedBuyer, generateFeePayerKey, startLocalSolana, type Buyer, type LocalSolana } from "./support/solana.js";

const AMOUNT = 10_000n;
// Two signatures (fee payer, buyer) plus the client's priority fee: ceil(20,000 CU × 1 µlamport / 1e6).
const PAYMENT_FEE = 10_001n;

let local: LocalSolana;
let feePayer: KeyPairSigner;

beforeAll(async () => {
  local = await startLocalSolana({ network: "devnet", slotMs: 40 });
  feePayer = (await generateFeePayerKey(local, 1_000_000_000n)).signer;
});
afterAll(() => local?.close());

/** A payment built by the official x402 client against the simulated node, co-signed by the fee payer unless told not to. */
async function payment(
  buyer: Buyer,
  o: { payTo?: Address; amount?: bigint; asset?: Address; cosign?: boolean; beforeCosign?: () => void } = {},
) {
  const payTo = o.payTo ?? (await generateKeyPairSigner()).address;
  const asset = o.asset ?? local.usdc;
  // The merchant's token account must exist for the transfer (funding it with its own balance creates it).
  await local.cluster.fundToken({ mint: asset, owner: payTo, amount: await local.cluster.tokenBalance(asset, payTo) });
  const client = new ExactSvmScheme(buyer.signer, { rpcUrl: local.url });
  const { payload } = await client.createPaymentPayload(2, {
    scheme: "exact",
    network: local.caip2 as `${string}:${string}`,
    amount: String(o.amount ?? AMOUNT),
    asset,
    payTo,
    maxTimeoutSeconds: 60,
    extra: { feePayer: feePayer.address },
  });
  const buyerSigned = payload.transaction as Base64EncodedWireTransaction;
  o.beforeCosign?.();
  const tx = getTransactionDecoder().decode(getBase64Encoder().encode(buyerSigned));
  const wire = o.cosign === false ? buyerSigned : getBase64EncodedWireTransaction(await partiallySignTransaction([feePayer.keyPair], tx));
  return { payTo, buyerSigned, wire, signature: firstSignature(wire) };
}

/** The transaction id: the fee payer's signature, all-zero base58 when it is missing. */
function firstSignature(wire: string): Signature {
  const tx = getTransactionDecoder().decode(getBase64Encoder().encode(wire));
  const first = Object.values(tx.signatures)[0];
  return getBase58Decoder().decode(first ?? new Uint8Array(64)) as Signature;
}

const send = (wire: string, skipPreflight = true) =>
  local.rpc
    .sendTransaction(wire as Base64EncodedWireTransaction, { encoding: "base64", skipPreflight, preflightCommitment: "confirmed" })
    .send();

async function status(signature: Signature) {
  const { value } = await local.rpc.getSignatureStatuses([signature], { searchTransactionHistory: true }).send();
  return value[0];
}

async function waitFor<T>(what: () => Promise<T | null | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await what();
    if (v) return v;
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The JSON-RPC error code a kit call failed with. */
async function rpcErrorCode(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (e) {
    if (isSolanaError(e)) return e.context.__code as number;
    throw e;
  }
  throw new Error("expected the call to fail");
}

async function raw(body: string, method = "POST"): Promise<{ status: number; json: any }> {
  const res = await fetch(local.url, {
    method,
    headers: { "content-type": "application/json" },
    body: method === "POST" ? body : undefined,
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

/** Runs `fn` with the slot clock stopped, so a test decides when slots pass. */
async function withSlotsPaused<T>(fn: () => Promise<T>): Promise<T> {
  local.server.faults.pauseSlots();
  try {
    return await fn();
  } finally {
    local.server.faults.resumeSlots();
  }
}

describe("the node basics", () => {
  it("answers identity, slots and blockhashes as a devnet node would", async () => {
    expect(await local.rpc.getGenesisHash().send()).toBe("EtWTRABZaYq6iMfeYKouRu166VU2xqa1wcaWoxPkrZBG");
    expect(await local.rpc.getHealth().send()).toBe("ok");
    expect((await local.rpc.getVersion().send())["solana-core"]).toContain("litesvm");
    await withSlotsPaused(async () => {
      const processed = await local.rpc.getSlot({ commitment: "processed" }).send();
      expect(await local.rpc.getSlot({ commitment: "confirmed" }).send()).toBe(processed - 1n);
      expect(await local.rpc.getSlot({ commitment: "finalized" }).send()).toBe(processed - 5n);
      const height = await local.rpc.getBlockHeight({ commitment: "processed" }).send();
      const latest = await local.rpc.getLatestBlockhash({ commitment: "processed" }).send();
      expect(latest.context.slot).toBe(processed);
      expect(latest.value.lastValidBlockHeight).toBe(height + 150n);
      const fin = await local.rpc.getLatestBlockhash({ commitment: "finalized" }).send();
      expect(fin.value.lastValidBlockHeight).toBe(height - 5n + 150n);
      expect((await local.rpc.isBlockhashValid(latest.value.blockhash, { commitment: "processed" }).send()).value).toBe(true);
      local.cluster.warp(150);
      expect((await local.rpc.isBlockhashValid(latest.value.blockhash, { commitment: "processed" }).send()).value).toBe(true);
      local.cluster.warp(1);
      expect((await local.rpc.isBlockhashValid(latest.value.blockhash, { commitment: "processed" }).send()).value).toBe(false);
    });
    expect(local.cluster.svm.getClock().slot).toBe(local.cluster.slot);
    expect(await local.rpc.getBalance(feePayer.address, { commitment: "confirmed" }).send()).toEqual(
      expect.objectContaining({ value: local.cluster.solBalance(feePayer.address) }),
    );
    // Slots tick on their own.
    const before = await local.rpc.getSlot({ commitment: "processed" }).send();
    await waitFor(async () => (await local.rpc.getSlot({ commitment: "processed" }).send()) > before + 2n);
  });

  it("serves mints and token accounts as base64 and jsonParsed, like a real RPC", async () => {
    const buyer = await fundedBuyer(local, { usdc: 1_234_500n });
    const mint = await local.rpc.getAccountInfo(local.usdc, { encoding: "jsonParsed" }).send();
    const parsedMint = mint.value!.data as any;
    expect(parsedMint.program).toBe("spl-token");
    expect(parsedMint.parsed.type).toBe("mint");
    expect(parsedMint.parsed.info.decimals).toBe(6);
    expect(mint.value!.owner).toBe("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA");
    const ata = await local.rpc.getAccountInfo(buyer.ata, { encoding: "jsonParsed" }).send();
    const info = (ata.value!.data as any).parsed.info;
    expect(info).toMatchObject({ mint: local.usdc, owner: buyer.address, state: "initialized", isNative: false });
    expect(info.tokenAmount).toEqual({ amount: "1234500", decimals: 6, uiAmount: 1.2345, uiAmountString: "1.2345" });
    const b64 = await local.rpc.getAccountInfo(buyer.ata, { encoding: "base64" }).send();
    expect(b64.value!.data[1]).toBe("base64");
    expect(b64.value!.space).toBe(165n);
    const balance = await local.rpc.getTokenAccountBalance(buyer.ata).send();
    expect(balance.value.amount).toBe("1234500");
    const many = await local.rpc.getMultipleAccounts([buyer.ata, buyer.address], { encoding: "base64" }).send();
    expect(many.value[0]).not.toBeNull();
    expect(many.value[1]).toBeNull();
    expect(await local.rpc.getMinimumBalanceForRentExemption(165n).send()).toBe(2_039_280n);
    // The mint's supply is the sum of what fundToken handed out.
    const supply = BigInt(
      ((await local.rpc.getAccountInfo(local.usdc, { encoding: "jsonParsed" }).send()).value!.data as any).parsed.info.supply,
    );
    expect(supply).toBeGreaterThanOrEqual(1_234_500n);
    // Other accounts fall back to base64 even when jsonParsed is asked for.
    const payer = await local.rpc.getAccountInfo(feePayer.address, { encoding: "jsonParsed" }).send();
    expect(payer.value!.data).toEqual(["", "base64"]);
  });

  it("places Token-2022 mints and shows them as spl-token-2022", async () => {
    const mint = await local.cluster.createMint({ decimals: 2, tokenProgram: "token-2022" });
    const owner = (await generateKeyPairSigner()).address;
    const ata = await local.cluster.fundToken({ mint, owner, amount: 500n });
    const [expected] = await findAssociatedTokenPda({ mint, owner, tokenProgram: TOKEN_2022_PROGRAM_ADDRESS });
    expect(ata).toBe(expected);
    const acc = await local.rpc.getAccountInfo(ata, { encoding: "jsonParsed" }).send();
    expect((acc.value!.data as any).program).toBe("spl-token-2022");
    expect(await local.cluster.tokenBalance(mint, owner)).toBe(500n);
  });
});

describe("test keys and airdrops", () => {
  it("gives the fee payer key as base58 and as a JSON byte array, both the same key", async () => {
    const key = await generateFeePayerKey();
    const fromBase58 = await createKeyPairSignerFromBytes(getBase58Encoder().encode(key.base58));
    const fromJson = await createKeyPairSignerFromBytes(new Uint8Array(JSON.parse(key.json) as number[]));
    expect(fromBase58.address).toBe(key.address);
    expect(fromJson.address).toBe(key.address);
  });

  it("requestAirdrop lands a faucet transfer with a status", async () => {
    const to = (await generateKeyPairSigner()).address;
    const sig = await local.rpc.requestAirdrop(to, 2_000_000_000n as never, { commitment: "confirmed" }).send();
    await waitFor(async () => (await status(sig))?.confirmationStatus === "confirmed");
    expect(await local.rpc.getBalance(to, { commitment: "confirmed" }).send()).toEqual(expect.objectContaining({ value: 2_000_000_000n }));
  });
});

describe("an x402 payment from the official client", () => {
  it("lands once: confirmed, then finalized, tokens moved exactly and the fee payer paid the fee", async () => {
    const buyer = await fundedBuyer(local, { usdc: 1_000_000n });
    const feeBefore = local.cluster.solBalance(feePayer.address);
    const p = await payment(buyer);
    const merchantAta = await local.cluster.ataOf(local.usdc, p.payTo);

    const sent = await send(p.wire, false);
    expect(sent).toBe(p.signature);
    await waitFor(async () => (await status(sent))?.confirmationStatus === "confirmed");
    const fin = await waitFor(async () => {
      const s = await status(sent);
      return s?.confirmationStatus === "finalized" && s;
    });
    expect(fin.err).toBeNull();
    expect(fin.confirmations).toBeNull();

    expect(await local.cluster.tokenBalance(local.usdc, buyer.address)).toBe(1_000_000n - AMOUNT);
    expect(await local.cluster.tokenBalance(local.usdc, p.payTo)).toBe(AMOUNT);
    expect(local.cluster.solBalance(buyer.address)).toBe(0n);
    expect(feeBefore - local.cluster.solBalance(feePayer.address)).toBe(PAYMENT_FEE);

    const tx = await local.rpc
      .getTransaction(sent, { commitment: "finalized", encoding: "json", maxSupportedTransactionVersion: 0 })
      .send();
    expect(tx).not.toBeNull();
    expect(tx!.meta!.fee).toBe(PAYMENT_FEE);
    expect(tx!.meta!.err).toBeNull();
    expect(tx!.meta!.preBalances[0]! - tx!.meta!.postBalances[0]!).toBe(PAYMENT_FEE);
    expect(tx!.meta!.computeUnitsConsumed).toBeGreaterThan(0n);
    const post = tx!.meta!.postTokenBalances!.find((b) => b.owner === p.payTo)!;
    expect(post.uiTokenAmount.amount).toBe(String(AMOUNT));
    expect(tx!.transaction.message.accountKeys[post.accountIndex]).toBe(merchantAta);
    expect(tx!.version).toBe(0);

    const parsed = await local.rpc
      .getTransaction(sent, { commitment: "confirmed", encoding: "jsonParsed", maxSupportedTransactionVersion: 0 })
      .send();
    const transfer = (parsed!.transaction.message.instructions as any[]).find((i) => i.parsed?.type === "transferChecked");
    expect(transfer.parsed.info).toMatchObject({ destination: merchantAta, authority: buyer.address, mint: local.usdc });
    expect(transfer.parsed.info.tokenAmount.amount).toBe(String(AMOUNT));

    const history = await local.rpc.getSignaturesForAddress(buyer.address, { commitment: "confirmed" }).send();
    expect(history.map((h) => h.signature)).toEqual([sent]);
    expect(history[0]!.memo).toMatch(/^\[32\] [0-9a-f]{32}$/);
    const holders = await local.rpc
      .getProgramAccounts(TOKEN_PROGRAM_ADDRESS, {
        encoding: "base64",
        filters: [{ dataSize: 165n }, { memcmp: { offset: 32n, bytes: buyer.address as never, encoding: "base58" } }],
      })
      .send();
    expect(holders.map((h) => h.pubkey)).toEqual([buyer.ata]);

    // A client that does not declare v0 support is refused as a real node refuses it.
    expect(await rpcErrorCode(local.rpc.getTransaction(sent, { commitment: "confirmed", encoding: "json" }).send())).toBe(-32015);
  });

  it("follows processed → confirmed → finalized slot by slot, and getFeeForMessage agrees with the charge", async () => {
    await withSlotsPaused(async () => {
      const buyer = await fundedBuyer(local);
      const p = await payment(buyer);
      const message = getTransactionDecoder().decode(getBase64Encoder().encode(p.wire)).messageBytes;
      const fee = await local.rpc.getFeeForMessage(Buffer.from(message).toString("base64") as never, { commitment: "processed" }).send();
      expect(fee.value).toBe(PAYMENT_FEE);

      const sig = await send(p.wire);
      expect((await status(sig))?.confirmationStatus).toBe("processed");
      const getTx = (commitment: "confirmed" | "finalized") =>
        local.rpc.getTransaction(sig, { commitment, encoding: "base64", maxSupportedTransactionVersion: 0 }).send();
      expect(await getTx("confirmed")).toBeNull();
      local.cluster.warp(1);
      expect((await status(sig))?.confirmationStatus).toBe("confirmed");
      expect((await getTx("confirmed"))?.transaction).toEqual([p.wire, "base64"]);
      expect(await getTx("finalized")).toBeNull();
      local.cluster.warp(3);
      expect((await status(sig))?.confirmationStatus).toBe("confirmed");
      local.cluster.warp(1);
      expect((await status(sig))?.confirmationStatus).toBe("finalized");
      expect(await getTx("finalized")).not.toBeNull();
      // Without searchTransactionHistory only the status cache (about 300 slots) answers.
      local.cluster.warp(301);
      expect((await local.rpc.getSignatureStatuses([sig]).send()).value[0]).toBeNull();
      expect((await status(sig))?.confirmationStatus).toBe("finalized");
    });
  });

  it("charges the priority fee on the default compute-unit limit when a transaction sets none", async () => {
    const payer = (await generateFeePayerKey(local, 1_000_000_000n)).signer;
    const memo = { programAddress: "MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr" as Address, data: new TextEncoder().encode("fee") };
    const { value: latest } = await local.rpc.getLatestBlockhash({ commitment: "confirmed" }).send();
    const tx = await signTransactionMessageWithSigners(
      pipe(
        createTransactionMessage({ version: 0 }),
        (m) => setTransactionMessageFeePayerSigner(payer, m),
        (m) => setTransactionMessageLifetimeUsingBlockhash(latest, m),
        (m) => appendTransactionMessageInstructions([getSetComputeUnitPriceInstruction({ microLamports: 1_000n }), memo], m),
      ),
    );
    const before = local.cluster.solBalance(payer.address);
    const sig = await send(getBase64EncodedWireTransaction(tx), false);
    // 5,000 for the signature + ceil((200,000 memo + 3,000 compute budget) × 1,000 / 1e6).
    expect(before - local.cluster.solBalance(payer.address)).toBe(5_203n);
    local.cluster.warp(1);
    const landed = await local.rpc
      .getTransaction(sig, { commitment: "confirmed", encoding: "json", maxSupportedTransactionVersion: 0 })
      .send();
    expect(landed!.meta!.fee).toBe(5_203n);
  });

  it("works with a Token-2022 mint too", async () => {
    const mint = await local.cluster.createMint({ decimals: 6, tokenProgram: "token-2022" });
    const buyer = await fundedBuyer(local, { mint, usdc: 50_000n });
    const p = await payment(buyer, { asset: mint });
    const sig = await send(p.wire, false);
    await waitFor(async () => (await status(sig))?.confirmationStatus === "confirmed");
    expect((await status(sig))?.err).toBeNull();
    expect(await local.cluster.tokenBalance(mint, p.payTo)).toBe(AMOUNT);
  });
});

describe("exactly-once semantics of the cluster", () => {
  it("a resent transaction does not move money twice", async () => {
    const buyer = await fundedBuyer(local, { usdc: 100_000n });
    const p = await payment(buyer);
    const first = await send(p.wire);
    const feeAfterFirst = local.cluster.solBalance(feePayer.address);
    for (let i = 0; i < 3; i++) expect(await send(p.wire)).toBe(first);
    local.cluster.warp(10);
    expect(await local.cluster.tokenBalance(local.usdc, buyer.address)).toBe(100_000n - AMOUNT);
    expect(await local.cluster.tokenBalance(local.usdc, p.payTo)).toBe(AMOUNT);
    expect(local.cluster.solBalance(feePayer.address)).toBe(feeAfterFirst);
    // With preflight, a node says it has seen it.
    expect(await rpcErrorCode(send(p.wire, false))).toBe(-32002);
  });

  it("a transaction whose blockhash expired never lands, and its status stays null", async () => {
    const buyer = await fundedBuyer(local, { usdc: 100_000n });
    const p = await payment(buyer, { beforeCosign: () => local.cluster.warp(200) });
    expect(await rpcErrorCode(send(p.wire, false))).toBe(-32002);
    // Without preflight the node takes it and returns its signature; the leader drops it.
    expect(await send(p.wire)).toBe(p.signature);
    local.cluster.warp(10);
    expect(await status(p.signature)).toBeNull();
    expect(await local.cluster.tokenBalance(local.usdc, buyer.address)).toBe(100_000n);
    expect(await local.cluster.tokenBalance(local.usdc, p.payTo)).toBe(0n);
  });

  it("a blockhash never issued by this cluster is not found", async () => {
    const sim = await local.rpc
      .simulateTransaction((await payment(await fundedBuyer(local))).buyerSigned, {
        encoding: "base64",
        sigVerify: false,
        commitment: "confirmed",
      })
      .send();
    expect(sim.value.err).toBeNull();
    // Another cluster's blockhash: build against a second simulated node, send here.
    const other = await startLocalSolana({ network: "devnet" });
    try {
      const buyer = await fundedBuyer(local);
      await other.cluster.fundToken({ mint: other.usdc, owner: buyer.address, amount: 1_000_000n });
      const client = new ExactSvmScheme(buyer.signer, { rpcUrl: other.url });
      const payTo = (await generateKeyPairSigner()).address;
      await other.cluster.fundToken({ mint: other.usdc, owner: payTo, amount: 0n });
      const { payload } = await client.createPaymentPayload(2, {
        scheme: "exact",
        network: local.caip2 as `${string}:${string}`,
        amount: "1",
        asset: local.usdc,
        payTo,
        maxTimeoutSeconds: 60,
        extra: { feePayer: feePayer.address },
      });
      const tx = getTransactionDecoder().decode(getBase64Encoder().encode(payload.transaction as string));
      const wire = getBase64EncodedWireTransaction(await partiallySignTransaction([feePayer.keyPair], tx));
      const res = await local.rpc.simulateTransaction(wire, { encoding: "base64", commitment: "confirmed" }).send();
      expect(res.value.err).toBe("BlockhashNotFound");
    } finally {
      await other.close();
    }
  });

  it("a transaction missing the fee payer's signature is refused and never lands", async () => {
    const buyer = await fundedBuyer(local, { usdc: 100_000n });
    const p = await payment(buyer, { cosign: false });
    const feeBefore = local.cluster.solBalance(feePayer.address);
    expect(await rpcErrorCode(send(p.wire, false))).toBe(-32003);
    const sig = await send(p.wire);
    expect(sig).toBe("1".repeat(64));
    local.cluster.warp(5);
    expect(await status(sig)).toBeNull();
    // A forged signature is no better.
    const tx = getTransactionDecoder().decode(getBase64Encoder().encode(p.wire));
    const forged = { ...tx, signatures: { ...tx.signatures, [feePayer.address]: new Uint8Array(64).fill(7) } };
    const forgedWire = getBase64EncodedWireTransaction(forged as never);
    expect(await rpcErrorCode(send(forgedWire, false))).toBe(-32003);
    await send(forgedWire);
    local.cluster.warp(5);
    expect(await status(firstSignature(forgedWire))).toBeNull();
    expect(await local.cluster.tokenBalance(local.usdc, buyer.address)).toBe(100_000n);
    expect(local.cluster.solBalance(feePayer.address)).toBe(feeBefore);
  });

  it("a transaction that fails in the token program still lands: fee charged, err set", async () => {
    const buyer = await fundedBuyer(local, { usdc: 100_000n });
    const p = await payment(buyer, { amount: 100_001n });
    const feeBefore = local.cluster.solBalance(feePayer.address);
    const sig = await send(p.wire);
    const st = await waitFor(async () => {
      const s = await status(sig);
      return s?.confirmationStatus === "confirmed" && s;
    });
    expect(st.err).toEqual({ InstructionError: [2n, { Custom: 1n }] });
    expect(feeBefore - local.cluster.solBalance(feePayer.address)).toBe(PAYMENT_FEE);
    expect(await local.cluster.tokenBalance(local.usdc, buyer.address)).toBe(100_000n);
  });
});

describe("simulation", () => {
  it("simulates the buyer-signed transaction without sigVerify, and reports a program error in the RPC's shape", async () => {
    const buyer = await fundedBuyer(local, { usdc: 50_000n });
    const ok = await payment(buyer);
    const sim = await local.rpc
      .simulateTransaction(ok.buyerSigned, { encoding: "base64", sigVerify: false, commitment: "confirmed" })
      .send();
    expect(sim.value.err).toBeNull();
    expect(sim.value.unitsConsumed).toBeGreaterThan(0n);
    expect(sim.value.logs!.some((l) => l.includes("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA success"))).toBe(true);
    // Simulation changes nothing.
    expect(await local.cluster.tokenBalance(local.usdc, buyer.address)).toBe(50_000n);

    const tooMuch = await payment(buyer, { amount: 50_001n });
    const bad = await local.rpc
      .simulateTransaction(tooMuch.buyerSigned, { encoding: "base64", sigVerify: false, commitment: "confirmed" })
      .send();
    expect(bad.value.err).toEqual({ InstructionError: [2n, { Custom: 1n }] });

    // sigVerify on the buyer-only transaction is a signature failure, as on a node.
    expect(await rpcErrorCode(local.rpc.simulateTransaction(ok.buyerSigned, { encoding: "base64", sigVerify: true }).send())).toBe(-32003);
    expect(
      await rpcErrorCode(
        local.rpc
          .simulateTransaction(ok.buyerSigned, { encoding: "base64", sigVerify: true, replaceRecentBlockhash: true } as never)
          .send(),
      ),
    ).toBe(-32602);
  });

  it("replaceRecentBlockhash simulates an expired transaction with a fresh blockhash", async () => {
    const buyer = await fundedBuyer(local, { usdc: 50_000n });
    const p = await payment(buyer, { beforeCosign: () => local.cluster.warp(200) });
    const stale = await local.rpc.simulateTransaction(p.buyerSigned, { encoding: "base64", commitment: "confirmed" }).send();
    expect(stale.value.err).toBe("BlockhashNotFound");
    const fresh = await local.rpc
      .simulateTransaction(p.buyerSigned, { encoding: "base64", replaceRecentBlockhash: true, commitment: "confirmed" })
      .send();
    expect(fresh.value.err).toBeNull();
    expect(fresh.value.replacementBlockhash?.blockhash).toBeTypeOf("string");
  });

  it("returns inner instructions and post-simulation accounts when asked", async () => {
    const buyer = await fundedBuyer(local, { usdc: 50_000n });
    const p = await payment(buyer);
    const sim = await local.rpc
      .simulateTransaction(p.buyerSigned, {
        encoding: "base64",
        innerInstructions: true,
        accounts: { addresses: [buyer.ata], encoding: "jsonParsed" },
        commitment: "confirmed",
      })
      .send();
    expect(sim.value.err).toBeNull();
    expect(sim.value.innerInstructions).toEqual([]);
    expect((sim.value.accounts![0]!.data as any).parsed.info.tokenAmount.amount).toBe(String(50_000n - AMOUNT));
  });
});

describe("fault hooks", () => {
  it("dropSends: the signature comes back but the transaction never lands; resending it later lands it", async () => {
    const buyer = await fundedBuyer(local, { usdc: 100_000n });
    const p = await payment(buyer);
    local.server.faults.dropSends(1);
    expect(await send(p.wire)).toBe(p.signature);
    local.cluster.warp(3);
    expect(await status(p.signature)).toBeNull();
    expect(await local.cluster.tokenBalance(local.usdc, p.payTo)).toBe(0n);
    expect(await send(p.wire)).toBe(p.signature);
    expect((await status(p.signature))?.err).toBeNull();
    expect(await local.cluster.tokenBalance(local.usdc, p.payTo)).toBe(AMOUNT);
  });

  it("landSilently: the transaction lands but the caller sees a dropped connection or an error", async () => {
    for (const how of ["drop", "error"] as const) {
      const buyer = await fundedBuyer(local, { usdc: 100_000n });
      const p = await payment(buyer);
      local.server.faults.landSilently(1, how);
      const failure = await send(p.wire).then(
        () => null,
        (e: unknown) => e,
      );
      expect(failure).not.toBeNull();
      if (how === "error") expect(isSolanaError(failure) && failure.context.__code).toBe(-32603);
      expect((await status(p.signature))?.err).toBeNull();
      expect(await local.cluster.tokenBalance(local.usdc, p.payTo)).toBe(AMOUNT);
      // The caller's retry is deduplicated.
      expect(await send(p.wire)).toBe(p.signature);
      expect(await local.cluster.tokenBalance(local.usdc, p.payTo)).toBe(AMOUNT);
    }
  });

  it("stop refuses connections and restart serves again on the same port; the cluster keeps running", async () => {
    const slot = await local.rpc.getSlot({ commitment: "processed" }).send();
    await local.server.stop();
    await expect(fetch(local.url, { method: "POST", body: "{}" })).rejects.toThrow();
    await new Promise((r) => setTimeout(r, 100));
    await local.server.restart();
    expect(await local.rpc.getSlot({ commitment: "processed" }).send()).toBeGreaterThan(slot);
  });

  it("pauseSlots holds a landed transaction at processed until resumed", async () => {
    const buyer = await fundedBuyer(local);
    const p = await payment(buyer);
    local.server.faults.pauseSlots();
    try {
      const sig = await send(p.wire);
      await new Promise((r) => setTimeout(r, 150));
      expect((await status(sig))?.confirmationStatus).toBe("processed");
    } finally {
      local.server.faults.resumeSlots();
    }
    await waitFor(async () => (await status(p.signature))?.confirmationStatus === "finalized");
  });
});

describe("bad input", () => {
  it("answers garbage with JSON-RPC errors", async () => {
    expect((await raw("{not json")).json.error.code).toBe(-32700);
    expect((await raw("[]")).json.error.code).toBe(-32600);
    expect((await raw("{}")).json.error.code).toBe(-32600);
    expect((await raw('"hello"')).json.error.code).toBe(-32600);
    expect((await raw('{"jsonrpc":"2.0","id":1,"method":"noSuchMethod"}')).json.error.code).toBe(-32601);
    expect((await raw('{"jsonrpc":"2.0","id":1,"method":"constructor"}')).json.error.code).toBe(-32601);
    expect((await raw('{"jsonrpc":"2.0","id":1,"method":"getBalance","params":["nope"]}')).json.error.code).toBe(-32602);
    expect((await raw('{"jsonrpc":"2.0","id":1,"method":"getBalance","params":{"a":1}}')).json.error.code).toBe(-32602);
    expect((await raw('{"jsonrpc":"2.0","id":1,"method":"getSlot","params":[{"commitment":"soon"}]}')).json.error.code).toBe(-32602);
    expect((await raw('{"jsonrpc":"2.0","id":1,"method":"sendTransaction","params":["AAAA",{"encoding":"base64"}]}')).json.error.code).toBe(
      -32602,
    );
    expect((await raw('{"jsonrpc":"2.0","id":1,"method":"sendTransaction","params":["!!!",{"encoding":"base64"}]}')).json.error.code).toBe(
      -32602,
    );
    const huge = Buffer.alloc(1300, 1).toString("base64");
    expect(
      (await raw(`{"jsonrpc":"2.0","id":1,"method":"sendTransaction","params":["${huge}",{"encoding":"base64"}]}`)).json.error.code,
    ).toBe(-32602);
    const tooMany = JSON.stringify(Array.from({ length: 257 }, () => "1".repeat(64)));
    expect((await raw(`{"jsonrpc":"2.0","id":1,"method":"getSignatureStatuses","params":[${tooMany}]}`)).json.error.code).toBe(-32602);
    expect(
      (await raw(`{"jsonrpc":"2.0","id":1,"method":"getTransaction","params":["${"1".repeat(64)}",{"commitment":"processed"}]}`)).json.error
        .code,
    ).toBe(-32602);
    expect((await raw("", "GET")).status).toBe(405);
    const batch = await raw('[{"jsonrpc":"2.0","id":1,"method":"getHealth"},{"jsonrpc":"2.0","id":2,"method":"nope"},5]');
    expect(batch.json.map((r: any) => r.result ?? r.error.code)).toEqual(["ok", -32601, -32600]);
  });

  it("survives fuzzed params on every method", async () => {
    const methods = [
      "getHealth",
      "getVersion",
      "getGenesisHash",
      "getSlot",
      "getBlockHeight",
      "getEpochInfo",
      "getLatestBlockhash",
      "isBlockhashValid",
      "getBalance",
      "getAccountInfo",
      "getMultipleAccounts",
      "getTokenAccountBalance",
      "getMinimumBalanceForRentExemption",
      "getFeeForMessage",
      "getRecentPrioritizationFees",
      "simulateTransaction",
      "sendTransaction",
      "getSignatureStatuses",
      "getTransaction",
      "getSignaturesForAddress",
      "getProgramAccounts",
      "requestAirdrop",
    ];
    const address = fc.constantFrom(local.usdc, feePayer.address, "11111111111111111111111111111111");
    const param = fc.oneof(
      fc.anything(),
      address,
      fc.base64String(),
      fc.record(
        { encoding: fc.constantFrom("base64", "base58", "jsonParsed", "json", "zstd"), commitment: fc.string() },
        { requiredKeys: [] },
      ),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...methods), fc.array(param, { maxLength: 3 }), async (method, params) => {
        const { status, json } = await raw(JSON.stringify({ jsonrpc: "2.0", id: 7, method, params }));
        expect(status).toBe(200);
        expect(json.id).toBe(7);
        expect("result" in json || (typeof json.error?.code === "number" && json.error.code !== -32603)).toBe(true);
      }),
      { numRuns: 400 },
    );
    expect(await local.rpc.getHealth().send()).toBe("ok");
  });
});
