// 400 concurrent settlements driven through a worker SIGKILL (threats.md §2 at load): a worker
// process started with FAULT_POINT=after_signed_commit kills itself right after the first group
// commit that signed settlements (many rows signed, none broadcast), a fresh worker process
// finishes the job from the ledger alone, and every payment's /settle is retried until it is
// answered. Judged from the chain: each of the 400 authorizations used exactly once, the
// merchant paid exactly 400 prices, each buyer charged exactly its own payments, no success
// without its use on chain, the relayer's nonces contiguous and every mined relayer tx on record.
import { generatePrivateKey, privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";
import { parseAbiItem } from "viem";
import { describe, expect, it } from "vitest";
import { ANVIL_KEYS } from "../src/devnet/anvil.js";
import { usesOf } from "./support/chain-facts.js";
import { now, signAuthorization, v2Body } from "./support/payments.js";
import { peekJobs } from "./support/queue-peek.js";
import { auditRelayer, relayerProblems } from "./support/relayer-audit.js";
import { tail } from "./support/processes.js";
import {
  expectKilledBySigkill,
  expectPending,
  openCrashLab,
  killLeftoverWorkersAfterAll,
  type CrashPayment,
} from "./support/worker-crash.js";

const relayer = privateKeyToAccount(ANVIL_KEYS[0]).address;
const payTo = privateKeyToAccount(ANVIL_KEYS[3]).address;
const NETWORK = "eip155:84532";
const BUYERS = 20;
const PER_BUYER = 20;
const COUNT = BUYERS * PER_BUYER; // 400
const PRICE = 10_000n;
const FUNDED = "1"; // USDC per buyer: 1_000_000 units, enough for PER_BUYER × PRICE
/** How long, after the fresh worker is up, every payment may take to be answered for good. */
const RECOVERY_DEADLINE_MS = 150_000;
const RETRY_PAUSE_MS = 250;
const TEST_TIMEOUT_MS = 240_000;

const authorizationUsed = parseAbiItem("event AuthorizationUsed(address indexed authorizer, bytes32 indexed nonce)");
const authorizationStateAbi = [
  {
    type: "function",
    name: "authorizationState",
    stateMutability: "view",
    inputs: [
      { name: "authorizer", type: "address" },
      { name: "nonce", type: "bytes32" },
    ],
    outputs: [{ type: "bool" }],
  },
] as const;

killLeftoverWorkersAfterAll();

type Payment = CrashPayment;

type Answer = { status: number; json: any } | { error: string };

type Row = {
  id: string;
  payer: string;
  nonce: string;
  state: string;
  latest_tx: string | null;
  settled_tx: string | null;
  relayer_nonce: string | null;
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const key = (payer: string, nonce: string) => `${payer.toLowerCase()}:${nonce.toLowerCase()}`;

/** Runs `f` over `items`, at most `limit` at a time, keeping the order. */
async function mapLimited<T, R>(items: T[], limit: number, f: (t: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await f(items[i]!, i);
      }
    }),
  );
  return out;
}

async function openLab() {
  const base = await openCrashLab();
  const { chain, fac } = base;
  const lab = {
    ...base,
    async rows(): Promise<Row[]> {
      return fac.sql<Row[]>`
        select id, payer, nonce, state, latest_tx, settled_tx, relayer_nonce::text
        from settlements where chain_id = ${chain.chainId}`;
    },
    async stateCounts(): Promise<Record<string, number>> {
      const counts = await fac.sql<{ state: string; n: number }[]>`
        select state, count(*)::int as n from settlements where chain_id = ${chain.chainId} group by state order by state`;
      return Object.fromEntries(counts.map((c) => [c.state, c.n]));
    },
    relayerNonce: () => chain.client.getTransactionCount({ address: relayer, blockTag: "latest" }),
  };
  return lab;
}

describe("400 concurrent settlements through a worker SIGKILL", () => {
  it(
    `${COUNT} authorizations (${BUYERS} buyers × ${PER_BUYER}), worker SIGKILLed after its first signed group commit, a fresh worker finishes: every authorization used exactly once on chain`,
    async () => {
      const lab = await openLab();
      const { chain, fac } = lab;
      try {
        // Few buyers, each funded once for all of its payments.
        const buyers: PrivateKeyAccount[] = Array.from({ length: BUYERS }, () => privateKeyToAccount(generatePrivateKey()));
        for (const b of buyers) await chain.fund(b.address, FUNDED);
        // Valid long enough that no authorization can expire during the test, whatever its pace.
        const validBefore = now() + 3_600n;
        const payments: Payment[] = await Promise.all(
          Array.from({ length: COUNT }, async (_, i) => {
            const payer = buyers[i % BUYERS]!;
            const signed = await signAuthorization({
              payer,
              payTo,
              value: PRICE,
              asset: chain.usdc.address,
              chainId: chain.chainId,
              validBefore,
            });
            return {
              buyer: payer.address,
              nonce: signed.authorization.nonce,
              body: v2Body({ ...signed, asset: chain.usdc.address, payTo, amount: PRICE, network: NETWORK }),
            };
          }),
        );
        expect(new Set(payments.map((p) => key(p.buyer, p.nonce))).size, "400 distinct authorizations").toBe(COUNT);

        const before = {
          payTo: await chain.balanceOf(payTo),
          buyers: await Promise.all(buyers.map((b) => chain.balanceOf(b.address))),
          relayerNonce: await lab.relayerNonce(),
        };
        expect(before.buyers.every((b) => b >= PRICE * BigInt(PER_BUYER))).toBe(true);

        // Every answer any /settle gave, per payment, in order.
        const answers: Answer[][] = payments.map(() => []);
        const post = async (i: number): Promise<Answer> => {
          let a: Answer;
          try {
            a = await fac.settle(payments[i]!.body);
          } catch (err) {
            a = { error: String((err as Error)?.message ?? err) };
          }
          answers[i]!.push(a);
          return a;
        };

        // 1. All 400 at once, while no worker runs: each is claimed and queued, and answered
        // settlement_pending (nothing can be decided without a worker).
        const first = await Promise.all(payments.map((_, i) => post(i)));
        first.forEach((a, i) => {
          expect("error" in a, JSON.stringify(a)).toBe(false);
          expectPending(a as { status: number; json: any }, payments[i]!.buyer);
        });
        expect(await lab.stateCounts()).toEqual({ queued: COUNT });

        // 2. The worker that will die takes the 400 in flight at once and kills itself right after
        // its first signing group commit: a started worker signs the first arrival alone, a backlog
        // is what makes many settlements share that commit.
        const faulty = lab.spawn({ FAULT_POINT: "after_signed_commit" });
        // With a backlog waiting it may take jobs (and die) before it logs that it is up; how it
        // ended is what expectKilledBySigkill judges.
        await faulty.ready(60_000).catch(() => undefined);
        await expectKilledBySigkill(faulty, "after_signed_commit");

        // What the crash left behind: all 400 claimed, none past signed, nothing on chain.
        const crashed = await lab.rows();
        const crashedCounts = await lab.stateCounts();
        expect(crashed, JSON.stringify(crashedCounts)).toHaveLength(COUNT);
        expect(
          crashed.every((r) => r.state === "queued" || r.state === "signed"),
          JSON.stringify(crashedCounts),
        ).toBe(true);
        const signedAtCrash = crashed.filter((r) => r.state === "signed");
        // The case this test exists for: many settlements signed in one commit, none broadcast.
        expect(signedAtCrash.length, `signed at the crash: ${JSON.stringify(crashedCounts)}`).toBeGreaterThan(1);
        for (const r of signedAtCrash) expect(r.latest_tx).toMatch(/^0x[0-9a-f]{64}$/);
        expect(await lab.relayerNonce(), "nothing was broadcast before the kill").toBe(before.relayerNonce);
        const crashedByKey = new Map(crashed.map((r) => [key(r.payer, r.nonce), r]));
        console.log(`crash-load: at the SIGKILL ${JSON.stringify(crashedCounts)} (signed and not broadcast: ${signedAtCrash.length})`);

        // 3. A fresh worker; every payment's /settle is retried until it is answered for good.
        const fresh = lab.spawn();
        await fresh.ready(60_000);
        const recoveryStart = Date.now();
        const deadline = recoveryStart + RECOVERY_DEADLINE_MS;
        const outcome = await Promise.all(
          payments.map(async (_, i) => {
            for (;;) {
              if (Date.now() > deadline) return "deadline" as const;
              const a = await post(i);
              if (!("error" in a)) {
                if (a.json?.success === true) return "success" as const;
                if (a.json?.errorReason !== "settlement_pending") return "failed" as const;
              }
              // Pending (or the request itself failed): ask again after a short pause.
              await sleep(RETRY_PAUSE_MS);
            }
          }),
        );
        const recoveryMs = Date.now() - recoveryStart;

        // Every payment heard a success, and no answer was anything but pending or that success.
        const unanswered = payments
          .map((p, i) => ({ i, payer: p.buyer, nonce: p.nonce, outcome: outcome[i], last: answers[i]!.at(-1) }))
          .filter((x) => x.outcome !== "success");
        if (unanswered.length) {
          const rows = await lab.rows();
          const byKey = new Map(rows.map((r) => [key(r.payer, r.nonce), r]));
          const ids = unanswered.slice(0, 10).map((x) => byKey.get(key(x.payer, x.nonce))?.id ?? "?");
          throw new Error(
            `${unanswered.length} of ${COUNT} payments never answered success:true within ${RECOVERY_DEADLINE_MS / 1000} s ` +
              `(ledger now ${JSON.stringify(await lab.stateCounts())}); first ones:\n` +
              unanswered
                .slice(0, 10)
                .map((x) => `  #${x.i} ${x.outcome} state=${byKey.get(key(x.payer, x.nonce))?.state} last answer ${JSON.stringify(x.last)}`)
                .join("\n") +
              `\nBullMQ:\n${await peekJobs(fac.env.REDIS_URL!, fac.env.QUEUE_PREFIX!, ids)}` +
              `\nfresh worker's log:\n${tail(fresh.output(), 60)}`,
          );
        }
        const successes = answers.map((list) =>
          list.filter((a): a is { status: number; json: any } => !("error" in a) && a.json?.success === true),
        );
        expect(successes.filter((s) => s.length === 0)).toEqual([]);
        for (const [i, list] of answers.entries()) {
          for (const a of list) {
            if ("error" in a) continue; // a transport error is retried; it says nothing about the payment
            expect(a.status, JSON.stringify(a.json)).toBe(200);
            expect(a.json.payer).toBe(payments[i]!.buyer);
            expect(a.json.network).toBe(NETWORK);
            if (a.json.success !== true) expect(a.json.errorReason, JSON.stringify(a.json)).toBe("settlement_pending");
          }
        }

        // 4. The chain, not the answers: each authorization used exactly once, by the transaction
        // its success named; no success without its use on chain.
        const uses = await mapLimited(payments, 25, (p) => usesOf(chain, p.buyer, p.nonce));
        const notOnce = payments.map((p, i) => ({ i, payer: p.buyer, nonce: p.nonce, uses: uses[i]! })).filter((x) => x.uses.length !== 1);
        expect(notOnce, "authorizations not used exactly once on chain").toEqual([]);
        for (const [i, list] of successes.entries()) {
          for (const s of list) expect(s.json.transaction, `payment #${i}: its success names the tx that used it`).toBe(uses[i]![0]);
        }
        const states = await mapLimited(payments, 25, (p) =>
          chain.client.readContract({
            address: chain.usdc.address,
            abi: authorizationStateAbi,
            functionName: "authorizationState",
            args: [p.buyer, p.nonce],
          }),
        );
        expect(states.filter((s) => s !== true)).toEqual([]);
        // No other use of these buyers' authorizations anywhere on chain (no stray double spend).
        const allUses = await chain.client.getLogs({
          address: chain.usdc.address,
          event: authorizationUsed,
          fromBlock: 0n,
          toBlock: "latest",
        });
        const ours = new Set(buyers.map((b) => b.address.toLowerCase()));
        const ourUses = allUses.filter((l) => ours.has(l.args.authorizer!.toLowerCase()));
        expect(ourUses).toHaveLength(COUNT);
        expect(new Set(ourUses.map((l) => key(l.args.authorizer!, l.args.nonce!))).size).toBe(COUNT);

        // The money moved exactly once per payment.
        expect(await chain.balanceOf(payTo)).toBe(before.payTo + PRICE * BigInt(COUNT));
        const after = await Promise.all(buyers.map((b) => chain.balanceOf(b.address)));
        expect(after).toEqual(before.buyers.map((b) => b - PRICE * BigInt(PER_BUYER)));

        // The ledger agrees with the chain once everything is confirmed; a row signed before the
        // crash landed with the transaction it stored then or a fee bump of it (never re-signed
        // at another nonce).
        let rows = await lab.rows();
        for (const until = Date.now() + 30_000; rows.some((r) => r.state !== "confirmed") && Date.now() < until;) {
          await sleep(250);
          rows = await lab.rows();
        }
        expect(
          rows.filter((r) => r.state !== "confirmed").map((r) => r.state),
          "rows not confirmed",
        ).toEqual([]);
        const usedBy = new Map(payments.map((p, i) => [key(p.buyer, p.nonce), uses[i]![0]!]));
        for (const r of rows) {
          expect(r.settled_tx, `row ${r.id}`).toBe(usedBy.get(key(r.payer, r.nonce)));
          const atCrash = crashedByKey.get(key(r.payer, r.nonce))!;
          if (atCrash.state === "signed") {
            // What it stored then, or a fee bump of it (stored before it was sent, at the same
            // nonce: blocks filled by the burst can lift the base fee past the stored offer); never
            // a transaction at another nonce.
            const txs = await fac.sql<{ hash: string; relayer_nonce: string }[]>`
              select hash, relayer_nonce::text from settlement_txs where settlement_id = ${r.id} order by created_at, id`;
            expect(txs[0]!.hash, `row ${r.id} was signed before the crash`).toBe(atCrash.latest_tx);
            expect(new Set(txs.map((t) => t.relayer_nonce)), `row ${r.id}: one nonce`).toEqual(new Set([atCrash.relayer_nonce]));
            expect(
              txs.map((t) => t.hash),
              `row ${r.id}`,
            ).toContain(r.settled_tx);
          }
        }

        // The relayer: one transaction per settlement, nonces contiguous from where the lane
        // stood, every mined relayer transaction on record, nothing left in the pool.
        expect(await lab.relayerNonce()).toBe(before.relayerNonce + COUNT);
        const nonces = rows.map((r) => Number(r.relayer_nonce)).sort((a, b) => a - b);
        expect(nonces).toEqual(Array.from({ length: COUNT }, (_, i) => before.relayerNonce + i));
        expect(relayerProblems(await auditRelayer(chain, fac.sql, relayer))).toEqual([]);

        console.log(
          `crash-load: ${COUNT} settled after the restart in ${(recoveryMs / 1000).toFixed(1)} s; ` +
            `/settle calls ${answers.reduce((n, l) => n + l.length, 0)}, transport errors ${answers.reduce((n, l) => n + l.filter((a) => "error" in a).length, 0)}`,
        );
      } finally {
        await lab.close();
      }
    },
    TEST_TIMEOUT_MS,
  );
});
