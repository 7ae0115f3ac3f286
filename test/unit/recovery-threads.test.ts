// Signer recovery on helper threads answers exactly what the inline path answers, batched or
// not, and a thread that dies loses no recovery.
import { randomBytes } from "node:crypto";
import { Worker } from "node:worker_threads";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterEach, describe, expect, it } from "vitest";
import { createRecoveryThreads, inlineRecovery, startRecoveryThread, type SignerRecovery } from "../../src/evm/recovery-threads.js";
import { parseEcdsa, recoverSigner, type EcdsaParts } from "../../src/evm/signature.js";

async function signed(n: number) {
  return Promise.all(
    Array.from({ length: n }, async () => {
      const account = privateKeyToAccount(generatePrivateKey());
      const digest = randomBytes(32);
      const sig = parseEcdsa(await account.sign({ hash: `0x${digest.toString("hex")}` }))!;
      return { address: account.address.toLowerCase(), digest, sig };
    }),
  );
}

let open: SignerRecovery[] = [];
afterEach(async () => {
  await Promise.all(open.map((r) => r.close()));
  open = [];
});
const threads = (n: number, opts?: Parameters<typeof createRecoveryThreads>[1]) => {
  const r = createRecoveryThreads(n, opts);
  open.push(r);
  return r;
};

describe("signer recovery threads", () => {
  it("recovers every signer of a batch, as the inline path does", async () => {
    const cases = await signed(64);
    const lost: unknown[] = [];
    const recovery = threads(1, { onThreadLost: (err) => lost.push(err) });
    const got = await Promise.all(cases.map((c) => recovery.recover(c.digest, c.sig)));
    expect(got).toEqual(cases.map((c) => c.address));
    expect(cases.map((c) => recoverSigner(c.digest, c.sig))).toEqual(got);
    expect(lost).toEqual([]);
  });

  it("answers undefined for a signature that recovers to no key, without spoiling its batch", async () => {
    const [good] = await signed(1);
    // r at the group order n: a valid 65-byte shape that libsecp256k1 refuses to parse.
    const bad: EcdsaParts = { r: "0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141", s: good!.sig.s, v: 27 };
    const recovery = threads(2);
    const got = await Promise.all([recovery.recover(good!.digest, good!.sig), recovery.recover(good!.digest, bad)]);
    expect(got).toEqual([good!.address, undefined]);
    expect(recoverSigner(good!.digest, bad)).toBeUndefined();
  });

  it("gives the recoveries a dying thread holds to the inline path", async () => {
    // A thread that takes work and never answers, killed while holding a batch.
    let mute: Worker | undefined;
    const lost: unknown[] = [];
    const recovery = threads(1, {
      startThread: () => (mute = new Worker("require('node:worker_threads').parentPort.on('message', () => {})", { eval: true })),
      onThreadLost: (err) => lost.push(err),
    });
    const cases = await signed(20);
    const pending = Promise.all(cases.map((c) => recovery.recover(c.digest, c.sig)));
    await new Promise((r) => setTimeout(r, 50));
    await mute!.terminate();
    expect(await pending).toEqual(cases.map((c) => c.address));
    expect(lost).toHaveLength(1);
    // It never answered, so it is not replaced: recovery goes on inline.
    expect(await recovery.recover(cases[0]!.digest, cases[0]!.sig)).toBe(cases[0]!.address);
  });

  it("replaces a thread that had answered before it died", async () => {
    const started: Worker[] = [];
    const recovery = threads(1, {
      startThread: () => {
        const w = startRecoveryThread();
        started.push(w);
        return w;
      },
    });
    const [c] = await signed(1);
    expect(await recovery.recover(c!.digest, c!.sig)).toBe(c!.address);
    await started[0]!.terminate();
    await new Promise((r) => setTimeout(r, 20));
    expect(started).toHaveLength(2);
    expect(await recovery.recover(c!.digest, c!.sig)).toBe(c!.address);
  });

  it("recovers with the pure-JS keccak where the native sponge has no prebuild", async () => {
    const cases = await signed(8);
    const lost: unknown[] = [];
    const recovery = threads(1, {
      startThread: () => startRecoveryThread({ keccakDir: "/nonexistent" }),
      onThreadLost: (err) => lost.push(err),
    });
    expect(await Promise.all(cases.map((c) => recovery.recover(c.digest, c.sig)))).toEqual(cases.map((c) => c.address));
    // Answered by the thread itself, not by the inline path after it died.
    expect(lost).toEqual([]);
  });

  it("closes right after starting without aborting the process (a thread still loading its addon)", async () => {
    // Terminating a thread mid-way through loading the native keccak sponge aborts Node; close()
    // must wait for the thread to be loaded. Repeated, since the window is a few milliseconds.
    for (let i = 0; i < 60; i++) {
      const r = createRecoveryThreads(2);
      // Each round closes a little later, sweeping the moment the thread is inside its addon's init.
      await new Promise((resolve) => setTimeout(resolve, i % 30));
      await r.close();
    }
    const [c] = await signed(1);
    expect(recoverSigner(c!.digest, c!.sig)).toBe(c!.address);
  });

  it("runs inline with no threads, and after close", async () => {
    expect(createRecoveryThreads(0)).toBe(inlineRecovery);
    const [c] = await signed(1);
    const recovery = createRecoveryThreads(1);
    await recovery.close();
    expect(await recovery.recover(c!.digest, c!.sig)).toBe(c!.address);
  });
});
