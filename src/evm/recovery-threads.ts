// Signer recovery off the event loop. libsecp256k1's recovery is the largest CPU cost of a
// verify; done inline it delays every other request the api holds. Recoveries asked for in one
// event-loop turn travel to a helper thread as one packed buffer and come back as one. A thread
// that dies is replaced, and whatever it held is recovered inline: no verify is lost or answered
// from a guess.
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import type { Address } from "viem";
import { keccakAddon } from "./keccak.js";
import { recoverSigner, type EcdsaParts } from "./signature.js";

export interface SignerRecovery {
  /** The address that signed `digest`, or undefined when the signature recovers to none. */
  recover(digest: Uint8Array, sig: EcdsaParts): Promise<Address | undefined>;
  close(): Promise<void>;
}

export const inlineRecovery: SignerRecovery = {
  recover: async (digest, sig) => recoverSigner(digest, sig),
  close: async () => {},
};

const IN = 97; // digest 32 | r 32 | s 32 | recovery id 1
const OUT = 21; // recovered 1 | address 20

// Plain CommonJS evaluated in the thread, so it runs alike under tsx, vitest and compiled dist.
// It is the inline recoverSigner (signature.ts) over a packed batch; the tests hold them equal.
const THREAD_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const secp256k1 = require(workerData.secp256k1);
let keccak256;
try {
  const KeccakState = require(workerData.nodeGypBuild)(workerData.keccakDir);
  const state = new KeccakState();
  state.initialize(1088, 512);
  keccak256 = (data) => {
    state.absorb(data);
    const hash = state.squeeze(32);
    state.initialize(1088, 512);
    return hash;
  };
} catch {
  // No prebuilt sponge for this platform: the pure-JS keccak viem itself uses.
  const { keccak_256 } = require(workerData.nobleSha3);
  keccak256 = (data) => Buffer.from(keccak_256(data));
}
// Loaded: from here on the thread may be terminated safely (see settled() below).
parentPort.postMessage({ ready: true });
parentPort.on("message", ({ id, input }) => {
  const src = Buffer.from(input);
  const n = src.length / ${IN};
  const out = Buffer.from(new ArrayBuffer(n * ${OUT}));
  for (let i = 0; i < n; i++) {
    const at = i * ${IN};
    try {
      const pub = secp256k1.ecdsaRecover(src.subarray(at + 32, at + 96), src[at + 96], src.subarray(at, at + 32), false);
      const hash = keccak256(Buffer.from(pub.buffer, pub.byteOffset + 1, 64));
      out[i * ${OUT}] = 1;
      hash.copy(out, i * ${OUT} + 1, 12, 32);
    } catch {
      // unrecoverable: stays 0, read as undefined
    }
  }
  parentPort.postMessage({ id, output: out.buffer }, [out.buffer]);
});
`;

export interface ThreadModules {
  secp256k1: string;
  nodeGypBuild: string;
  /** Where the keccak addon's prebuilds are looked for. */
  keccakDir: string;
  nobleSha3: string;
}

/**
 * One recovery thread, loading what the inline path loads: libsecp256k1 (or the package's JS
 * fallback) and the native keccak sponge (or the pure-JS keccak where it has no prebuild).
 */
export function startRecoveryThread(modules: Partial<ThreadModules> = {}): Worker {
  const require = createRequire(import.meta.url);
  const workerData: ThreadModules = {
    secp256k1: require.resolve("secp256k1"),
    ...keccakAddon(),
    nobleSha3: createRequire(require.resolve("viem/package.json")).resolve("@noble/hashes/sha3"),
    ...modules,
  };
  // No inherited flags: a loader (tsx) would start a hooks thread of its own for nothing.
  return new Worker(THREAD_SOURCE, { eval: true, workerData, execArgv: [] });
}

export interface RecoveryThreadOptions {
  /** Told of a thread that died (it is replaced if it had ever answered). */
  onThreadLost?(err: unknown): void;
  startThread?: () => Worker;
}

interface Ask {
  digest: Uint8Array;
  sig: EcdsaParts;
  resolve(address: Address | undefined): void;
}

interface Lane {
  worker: Worker;
  inFlight: Map<number, Ask[]>;
  load: number;
  answered: boolean;
  /** Resolves once the thread has loaded its native modules, or has exited. */
  settled: Promise<void>;
}

/** Longest close() waits for a thread still loading its native modules. */
const SETTLE_WAIT_MS = 5_000;

/**
 * When a thread may be terminated: once it said it is loaded, or once it is gone. Terminating a
 * thread while it loads a native addon (the keccak sponge) makes Node abort the whole process
 * (a fatal N-API error in the addon's init), so close() waits for this first.
 */
function settled(worker: Worker): Promise<void> {
  return new Promise<void>((resolve) => {
    const onMessage = (m: unknown) => {
      if ((m as { ready?: boolean } | null)?.ready) done();
    };
    const done = () => {
      worker.off("message", onMessage);
      worker.off("exit", done);
      resolve();
    };
    worker.on("message", onMessage);
    worker.once("exit", done);
  });
}

// A buffer of its own (never a slice of Node's pool): it is transferred, which detaches it.
function pack(asks: Ask[]): ArrayBuffer {
  const buf = Buffer.from(new ArrayBuffer(asks.length * IN));
  asks.forEach((a, i) => {
    const at = i * IN;
    buf.set(a.digest, at);
    buf.write(a.sig.r.slice(2), at + 32, "hex");
    buf.write(a.sig.s.slice(2), at + 64, "hex");
    buf[at + 96] = a.sig.v - 27;
  });
  return buf.buffer;
}

const settleInline = (asks: Ask[]) => asks.forEach((a) => a.resolve(recoverSigner(a.digest, a.sig)));

/**
 * `threads` helper threads (0: inline). A thread that dies before its first answer is not
 * replaced (it would only die again); with none left, recovery runs inline.
 */
export function createRecoveryThreads(threads: number, opts: RecoveryThreadOptions = {}): SignerRecovery {
  if (threads <= 0) return inlineRecovery;
  const startThread = opts.startThread ?? startRecoveryThread;
  const lanes: Lane[] = [];
  let queue: Ask[] = [];
  let nextId = 1;
  let closing = false;

  function spawn(): Lane {
    const worker = startThread();
    // The api's servers keep the process alive; a forgotten close() must not.
    worker.unref();
    const lane: Lane = { worker, inFlight: new Map(), load: 0, answered: false, settled: settled(worker) };
    worker.on("message", ({ id, output }: { id: number; output: ArrayBuffer }) => {
      const asks = lane.inFlight.get(id);
      if (!asks) return;
      lane.inFlight.delete(id);
      lane.load -= asks.length;
      lane.answered = true;
      const out = Buffer.from(output);
      asks.forEach((a, i) => {
        const at = i * OUT;
        a.resolve(out[at] === 1 ? (`0x${out.toString("hex", at + 1, at + OUT)}` as Address) : undefined);
      });
    });
    const lost = (err: unknown) => {
      const at = lanes.indexOf(lane);
      if (at < 0) return;
      lanes.splice(at, 1);
      for (const asks of lane.inFlight.values()) settleInline(asks);
      lane.inFlight.clear();
      if (closing) return;
      opts.onThreadLost?.(err);
      if (lane.answered) lanes.push(spawn());
    };
    worker.on("error", lost);
    worker.on("exit", (code) => lost(new Error(`recovery thread exited with code ${code}`)));
    return lane;
  }

  for (let i = 0; i < threads; i++) lanes.push(spawn());

  function flush() {
    const asks = queue;
    queue = [];
    const lane = lanes.reduce<Lane | undefined>((best, l) => (!best || l.load < best.load ? l : best), undefined);
    if (!lane) return settleInline(asks);
    const id = nextId++;
    lane.inFlight.set(id, asks);
    lane.load += asks.length;
    const input = pack(asks);
    lane.worker.postMessage({ id, input }, [input]);
  }

  return {
    recover(digest, sig) {
      return new Promise((resolve) => {
        if (queue.push({ digest, sig, resolve }) === 1) setImmediate(flush);
      });
    },
    async close() {
      closing = true;
      await Promise.all(
        lanes.map(async (l) => {
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([l.settled, new Promise((r) => (timer = setTimeout(r, SETTLE_WAIT_MS)))]);
          clearTimeout(timer);
          await l.worker.terminate();
        }),
      );
    },
  };
}
