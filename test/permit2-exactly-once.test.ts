// Exactly-once for `exact` via Permit2: the races, crashes and Redis loss the EIP-3009 tests put
// the ledger through (settle-races, crash, redis-loss), replayed with signed Permit2 witness
// transfers in the permit-only token. Judged from the chain: one Transfer out of the payer per
// Permit2 nonce (by the transaction the ledger names), the price moved once, the nonce bit set,
// the relayer's nonces contiguous and all on record; identical retries name that transaction.
//
// Every case has a lab of its own (anvil chain with the Permit2 stack, facilitator, database,
// queue prefix), so the relayer audit sees only that case's transactions.
import { randomBytes } from "node:crypto";
import { parseAbiItem, type Address, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ANVIL_KEYS } from "../src/devnet/anvil.js";
import { deployPermit2Stack, X402_EXACT_PERMIT2_PROXY } from "../src/devnet/permit2.js";
import { startTestChain, type TestChain } from "./support/chain.js";
import { startFacilitator, type TestFacilitator } from "./support/facilitator.js";
import { approvePermit2, permit2NetworksFile, permit2NonceUsed, tokenBalance } from "./support/permit2-merchant.js";
import { startPrivateRedis, type PrivateRedis } from "./support/private-redis.js";
import { permit2Payment } from "./support/permit2-payments.js";
import { peekJobs } from "./support/queue-peek.js";
import { auditRelayer, relayerProblems } from "./support/relayer-audit.js";
import { killAllProcesses, spawnWorker, tail, type FacilitatorProcess } from "./support/processes.js";

const relayer = privateKeyToAccount(ANVIL_KEYS[0]).address;
const NETWORK = "eip155:84532";
const PRICE = 10_000n;
const FUNDED = 1_000_000n;
const TX_HASH = /^0x[0-9a-f]{64}$/;
/** As in crash.test.ts: a dead worker's 15 s relayer lease has to expire before another may sign. */
const RECOVERY_MS = 45_000;
const CASE_TIMEOUT_MS = 90_000;

const transferEvent = parseAbiItem("event Transfer(address indexed from, address indexed to, uint256 value)");

afterAll(async () => {
  // Safety net: each lab kills its own workers; this catches anything a crashed test left.
  await killAllProcesses();
});

interface Payment {
  payer: Address;
  nonce: bigint;
  body: Awaited<ReturnType<typeof permit2Payment>>["body"];
}

type Row = {
  id: string;
  method: string;
  state: string;
  latest_tx: string | null;
  settled_tx: string | null;
  settled_by: string | null;
};

async function openLab(opts: { worker: boolean; env?: Record<string, string> }) {
  const chain: TestChain = await startTestChain();
  // Before the facilitator: placing Permit2 briefly switches the chain id.
  const stack = await deployPermit2Stack(chain.rpcUrl);
  const fac: TestFacilitator = await startFacilitator(
    chain,
    { NETWORKS_FILE: permit2NetworksFile(chain, stack), ...opts.env },
    { worker: opts.worker },
  );
  const payTo = privateKeyToAccount(generatePrivateKey()).address;
  const workers: FacilitatorProcess[] = [];
  const token = stack.token.address;

  const lab = {
    chain,
    fac,
    payTo,
    balanceOf: (who: Address) => tokenBalance(chain, token, who),
    relayerNonce: () => chain.client.getTransactionCount({ address: relayer }),
    spawn(extra: Record<string, string> = {}): FacilitatorProcess {
      const w = spawnWorker({ ...fac.env, ...extra });
      workers.push(w);
      return w;
    },
    /** A fresh payer holding FUNDED tokens, Permit2 approved, and its signed payment of PRICE to payTo. */
    async newPayment(): Promise<Payment & { variant(o: { resourceUrl?: string; extra?: Record<string, string> }): Payment["body"] }> {
      const key = generatePrivateKey();
      const account = privateKeyToAccount(key);
      await stack.mint(account.address, FUNDED);
      await approvePermit2(chain, token, key);
      const fields = {
        from: account.address,
        sign: (t: Parameters<typeof account.signTypedData>[0]) => account.signTypedData(t),
        token: stack.token,
        amount: PRICE,
        payTo,
        chainId: chain.chainId,
        nonce: BigInt(`0x${randomBytes(32).toString("hex")}`),
        deadline: BigInt(Math.floor(Date.now() / 1000) + 300),
        resourceUrl: "http://localhost/paid",
      };
      const { body, nonce } = await permit2Payment(fields);
      return {
        payer: account.address,
        nonce,
        body,
        // The same signed authorization inside a different request body (fields nobody signed).
        variant: (o) => {
          const copy = structuredClone(body);
          if (o.resourceUrl) copy.paymentPayload.resource!.url = o.resourceUrl;
          Object.assign(copy.paymentRequirements.extra, o.extra);
          copy.paymentPayload.accepted = copy.paymentRequirements;
          return copy;
        },
      };
    },
    async rowOf(p: Payment): Promise<Row | undefined> {
      const [row] = await fac.sql<Row[]>`
        select id, method, state, latest_tx, settled_tx, settled_by from settlements
        where chain_id = ${chain.chainId} and payer = ${p.payer.toLowerCase()}
          and nonce = ${`0x${p.nonce.toString(16).padStart(64, "0")}`}`;
      return row;
    },
    async storedTxsOf(id: string): Promise<number> {
      const [r] = await fac.sql<{ n: number }[]>`select count(*)::int as n from settlement_txs where settlement_id = ${id}`;
      return r!.n;
    },
    /** Transactions that moved the token out of `payer`: more than one would be a double spend. */
    async transfersFrom(payer: Address): Promise<string[]> {
      const logs = await chain.client.getLogs({
        address: token,
        event: transferEvent,
        args: { from: payer },
        fromBlock: 0n,
        toBlock: "latest",
      });
      return logs.map((l) => l.transactionHash!);
    },
    /** Polls the ledger until every row is confirmed; on timeout, fails with the states, the queue and the worker's log. */
    async waitConfirmed(payments: Payment[], timeoutMs: number, worker?: FacilitatorProcess): Promise<Row[]> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const rows = await Promise.all(payments.map(lab.rowOf));
        if (rows.every((r) => r?.state === "confirmed")) return rows as Row[];
        if (Date.now() > deadline) {
          const ids = rows.map((r) => r?.id ?? "?");
          throw new Error(
            `not confirmed within ${timeoutMs / 1000} s: states ${JSON.stringify(rows.map((r) => r?.state))}\n` +
              `BullMQ:\n${await peekJobs(fac.env.REDIS_URL!, fac.env.QUEUE_PREFIX!, ids)}` +
              (worker ? `\nworker's log:\n${tail(worker.output())}` : ""),
          );
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    /**
     * The exactly-once verdict for confirmed payments: each moved the price once, by the row's own
     * transaction through the exact proxy; its Permit2 nonce is spent; payTo got the sum; the
     * relayer sent one transaction per payment and every one of them is on record.
     */
    async expectSettledOnce(payments: Payment[], rows: Row[], before: { payTo: bigint; relayerNonce: number }) {
      for (const [i, p] of payments.entries()) {
        const row = rows[i]!;
        expect(row.method).toBe("permit2");
        expect(row.settled_tx).toMatch(TX_HASH);
        expect(row.settled_by).toBe("self");
        expect(await lab.transfersFrom(p.payer)).toEqual([row.settled_tx]);
        const tx = await chain.client.getTransaction({ hash: row.settled_tx as Hex });
        expect(tx.to?.toLowerCase()).toBe(X402_EXACT_PERMIT2_PROXY.toLowerCase());
        expect(tx.from.toLowerCase()).toBe(relayer.toLowerCase());
        expect(await lab.balanceOf(p.payer)).toBe(FUNDED - PRICE);
        expect(await permit2NonceUsed(chain, p.payer, p.nonce)).toBe(true);
        expect(await lab.storedTxsOf(row.id)).toBe(1);
      }
      expect(await lab.balanceOf(payTo)).toBe(before.payTo + PRICE * BigInt(payments.length));
      expect(await lab.relayerNonce()).toBe(before.relayerNonce + payments.length);
      expect(relayerProblems(await auditRelayer(chain, fac.sql, relayer))).toEqual([]);
    },
    async close() {
      await Promise.all(workers.map((w) => w.kill()));
      await fac.close();
      await chain.stop();
    },
  };
  return lab;
}

type Lab = Awaited<ReturnType<typeof openLab>>;

async function withLab(opts: Parameters<typeof openLab>[0], run: (lab: Lab) => Promise<void>) {
  const lab = await openLab(opts);
  try {
    await run(lab);
  } finally {
    await lab.close();
  }
}

const before = async (lab: Lab) => ({ payTo: await lab.balanceOf(lab.payTo), relayerNonce: await lab.relayerNonce() });

/** The answer given while no worker has finished: pending, never a failure. */
function expectPending(res: { status: number; json: any }, p: Payment) {
  expect(res.status).toBe(200);
  expect(res.json).toMatchObject({ success: false, errorReason: "settlement_pending", payer: p.payer, network: NETWORK });
  expect(res.json.transaction).toMatch(/^(0x[0-9a-f]{64})?$/);
}

describe("concurrent /settle for one Permit2 payment", () => {
  it(
    "8 identical calls at once: one success, the others told the nonce is used with the same transaction; one transfer",
    async () => {
      await withLab({ worker: true }, async (lab) => {
        const p = await lab.newPayment();
        const was = await before(lab);

        const answers = await Promise.all(Array.from({ length: 8 }, () => lab.fac.settle(p.body)));
        const [row] = await lab.waitConfirmed([p], 15_000);
        const tx = row!.settled_tx;
        expect(tx).toMatch(TX_HASH);
        for (const a of answers) expect(a.status, JSON.stringify(a.json)).toBe(200);
        const successes = answers.filter((a) => a.json.success === true);
        expect(successes.map((a) => a.json)).toEqual([{ success: true, payer: p.payer, transaction: tx, network: NETWORK }]);
        for (const a of answers.filter((a) => a.json.success !== true)) {
          expect(["permit2_invalid_nonce", "settlement_pending"], JSON.stringify(a.json)).toContain(a.json.errorReason);
          expect(a.json, JSON.stringify(a.json)).toMatchObject({ success: false, payer: p.payer, network: NETWORK, transaction: tx });
        }

        await lab.expectSettledOnce([p], [row!], was);
        // An identical retry now: the success was told once, so it hears the nonce is used, with the real hash.
        const retry = await lab.fac.settle(p.body);
        expect(retry.json).toMatchObject({
          success: false,
          errorReason: "permit2_invalid_nonce",
          payer: p.payer,
          transaction: tx,
        });
        expect(await lab.transfersFrom(p.payer)).toEqual([tx]);
      });
    },
    CASE_TIMEOUT_MS,
  );

  it(
    "the same authorization in three different request bodies at once: one settles, the others are duplicate_settlement; one transfer",
    async () => {
      await withLab({ worker: true }, async (lab) => {
        const p = await lab.newPayment();
        const bodies = [p.body, p.variant({ resourceUrl: "http://localhost/another-resource" }), p.variant({ extra: { orderId: "b-42" } })];
        expect(new Set(bodies.map((b) => JSON.stringify(b))).size).toBe(bodies.length);
        const was = await before(lab);

        const answers = await Promise.all(bodies.map((b) => lab.fac.settle(b)));
        const [row] = await lab.waitConfirmed([p], 15_000);
        const tx = row!.settled_tx;
        for (const x of answers) expect(x.status, JSON.stringify(x.json)).toBe(200);
        const won = answers.findIndex((x) => x.json.success === true);
        expect(won, JSON.stringify(answers.map((x) => x.json))).not.toBe(-1);
        expect(answers[won]!.json).toEqual({ success: true, payer: p.payer, transaction: tx, network: NETWORK });
        const lost = bodies.map((_, i) => i).filter((i) => i !== won);
        for (const i of lost) {
          expect(answers[i]!.json).toMatchObject({ success: false, errorReason: "duplicate_settlement", payer: p.payer });
          // Told before or after the winner's transaction existed: "" or that hash, never another.
          expect([tx, ""]).toContain(answers[i]!.json.transaction);
        }

        await lab.expectSettledOnce([p], [row!], was);
        // Retries of each body name the real transaction, and none is a second success.
        const retryWon = await lab.fac.settle(bodies[won]);
        expect(retryWon.json).toMatchObject({ success: false, errorReason: "permit2_invalid_nonce", transaction: tx });
        for (const i of lost) {
          const retry = await lab.fac.settle(bodies[i]);
          expect(retry.json).toMatchObject({ success: false, errorReason: "duplicate_settlement", transaction: tx });
        }
        expect(await lab.transfersFrom(p.payer)).toEqual([tx]);
      });
    },
    CASE_TIMEOUT_MS,
  );
});

async function withTimeout<T>(p: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(what())), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

describe.concurrent("Permit2 worker SIGKILLed mid-settlement, then a fresh worker process", () => {
  it.each([
    { point: "before_sign", at: "after the claim, before anything is signed" },
    { point: "after_signed_commit", at: "after the signed tx is committed, before it is broadcast" },
    { point: "after_broadcast", at: "after the broadcast, before the ledger records it" },
  ] as const)(
    "killed $at ($point): one transfer per nonce, the price moved once, retries name the real transaction",
    async ({ point }) => {
      // No in-process worker: the only workers are the child processes the case starts.
      await withLab({ worker: false, env: { SETTLE_WAIT_MS: "1500" } }, async (lab) => {
        const faulty = lab.spawn({ FAULT_POINT: point });
        await faulty.ready();
        const p = await lab.newPayment();
        const was = await before(lab);

        const pending = await lab.fac.settle(p.body);
        expectPending(pending, p);
        const exit = await withTimeout(
          faulty.exited,
          15_000,
          () => `FAULT_POINT=${point} did not kill the worker:\n${tail(faulty.output())}`,
        );
        expect(exit, tail(faulty.output())).toEqual({ code: null, signal: "SIGKILL" });

        // What the crash left behind.
        const crashed = (await lab.rowOf(p))!;
        expect(crashed, "the claim is committed before the worker runs").toBeDefined();
        expect(crashed.method).toBe("permit2");
        if (point === "before_sign") {
          expect(crashed.state).toBe("queued");
          expect(crashed.latest_tx).toBeNull();
          expect(await lab.storedTxsOf(crashed.id)).toBe(0);
          expect(pending.json.transaction).toBe("");
          expect(await lab.transfersFrom(p.payer)).toEqual([]);
        } else {
          // Write-ahead: the signed transaction is on record before it can reach the chain.
          expect(crashed.state).toBe("signed");
          expect(crashed.latest_tx).toMatch(TX_HASH);
          expect(await lab.storedTxsOf(crashed.id)).toBe(1);
          expect(pending.json.transaction).toBe(crashed.latest_tx);
          expect(await lab.transfersFrom(p.payer)).toEqual(point === "after_broadcast" ? [crashed.latest_tx] : []);
        }
        expect(await permit2NonceUsed(lab.chain, p.payer, p.nonce)).toBe(point === "after_broadcast");

        const fresh = lab.spawn();
        await fresh.ready();
        const [row] = await lab.waitConfirmed([p], RECOVERY_MS, fresh);

        await lab.expectSettledOnce([p], [row!], was);
        // One signed before the crash is sent as it is, not re-signed.
        if (point !== "before_sign") expect(row!.settled_tx).toBe(crashed.latest_tx);

        // The identical retry is answered from the row: success (never told before), with the hash that landed.
        const retry = await lab.fac.settle(p.body);
        expect(retry).toEqual({ status: 200, json: { success: true, payer: p.payer, transaction: row!.settled_tx, network: NETWORK } });
        const again = await lab.fac.settle(p.body);
        expect(again.json).toMatchObject({
          success: false,
          errorReason: "permit2_invalid_nonce",
          transaction: row!.settled_tx,
        });
        expect(await lab.transfersFrom(p.payer)).toEqual([row!.settled_tx]);
      });
    },
    CASE_TIMEOUT_MS,
  );
});

describe("Redis wiped (FLUSHALL) with Permit2 settlements queued", () => {
  let redis: PrivateRedis;
  beforeAll(async () => {
    redis = await startPrivateRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it(
    "no worker while they wait in the queue; a worker started after the wipe settles each exactly once",
    async () => {
      await withLab({ worker: false, env: { REDIS_URL: redis.url, SETTLE_WAIT_MS: "1000" } }, async (lab) => {
        const payments = await Promise.all(Array.from({ length: 4 }, () => lab.newPayment()));
        const was = await before(lab);

        // No worker: every /settle is claimed, enqueued and answered pending.
        const answers = await Promise.all(payments.map((p) => lab.fac.settle(p.body)));
        answers.forEach((a, i) =>
          expect(a.json).toEqual({
            success: false,
            errorReason: "settlement_pending",
            payer: payments[i]!.payer,
            transaction: "",
            network: NETWORK,
          }),
        );
        const queued = await Promise.all(payments.map(lab.rowOf));
        expect(queued.map((r) => [r?.method, r?.state])).toEqual(payments.map(() => ["permit2", "queued"]));
        const jobs = await peekJobs(
          redis.url,
          lab.fac.env.QUEUE_PREFIX!,
          queued.map((r) => r!.id),
        );
        expect(
          jobs.split("\n").every((l) => /: wait,/.test(l)),
          jobs,
        ).toBe(true);

        await redis.client.flushall();
        expect(await redis.client.dbsize()).toBe(0);

        await lab.fac.startWorker();
        const rows = await lab.waitConfirmed(payments, 20_000);
        await lab.expectSettledOnce(payments, rows, was);

        // Identical retries are answered from the ledger with the hash that landed.
        const retries = await Promise.all(payments.map((p) => lab.fac.settle(p.body)));
        retries.forEach((r, i) =>
          expect(r.json).toEqual({ success: true, payer: payments[i]!.payer, transaction: rows[i]!.settled_tx, network: NETWORK }),
        );
      });
    },
    CASE_TIMEOUT_MS,
  );
});
