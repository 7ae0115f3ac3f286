// The facilitator's dependencies go away while settlements are in flight (threats.md §3): a
// Postgres hard stop, every backend terminated, a Redis stop, and both at once. The api and the
// worker run as their own processes on a cluster and a Redis of the test's own. Whatever
// happens, both processes keep running, clients get an x402 answer or a JSON 503 (never a reset),
// and afterwards every authorization has landed exactly once and the operator API shows it.
import { afterEach, describe, expect, it } from "vitest";
import { killAllProcesses, tail } from "./support/processes.js";
import {
  expectAllLandedOnce,
  expectHonestAnswer,
  openOutageLab,
  payTo,
  type Answer,
  type OutageLab,
  type Payment,
} from "./support/outage-lab.js";

const OUTAGE_MS = 6_000;
const CASE_TIMEOUT_MS = 150_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let lab: OutageLab | undefined;
afterEach(async () => {
  await lab?.close();
  lab = undefined;
  await killAllProcesses();
});

/**
 * Sends half the payments, lets `outage` run over them and the other half (sent while it
 * lasts), then checks the end state. `during` looks at the api while the dependency is away.
 */
async function settleThrough(
  l: OutageLab,
  outage: { begin(): Promise<void>; end(): Promise<void> },
  during: (p: Payment) => Promise<void>,
) {
  const payments = await l.newPayments(12);
  const payToBefore = await l.chain.balanceOf(payTo);
  // One-second blocks: each settlement spends a while signed, submitted and mined.
  await l.chain.test.setIntervalMining({ interval: 1 });
  const answers: Answer[][] = payments.map(() => []);
  const settle = (i: number) => l.post("/settle", payments[i]!.body).then((a) => void answers[i]!.push(a));
  const first = payments.slice(0, 6).map((_, i) => settle(i));
  await sleep(400);
  await outage.begin();
  const second = payments.slice(6).map((_, i) => settle(i + 6));
  await sleep(1_000);
  await during(payments[6]!);
  await sleep(OUTAGE_MS - 1_000);
  await outage.end();
  await Promise.all([...first, ...second]);

  const context = () => `api:\n${tail(l.api.output(), 12)}\nworker:\n${tail(l.worker.output(), 12)}`;
  answers.forEach((a, i) => expectHonestAnswer(a[0]!, payments[i]!, context));
  // A client told 503 retries the identical request until it is taken.
  await Promise.all(
    payments.map(async (p, i) => {
      for (let tries = 0; answers[i]!.at(-1)!.status === 503 && tries < 60; tries++) {
        await sleep(500);
        await settle(i);
      }
      expectHonestAnswer(answers[i]!.at(-1)!, p, context);
    }),
  );
  await expectAllLandedOnce(l, payments, answers, payToBefore);
}

describe("Postgres goes away mid-flight", () => {
  it(
    "stopped hard for several seconds: both processes survive, every payment lands once",
    async () => {
      lab = await openOutageLab();
      const l = lab;
      await settleThrough(l, { begin: () => l.pg.stop(), end: () => l.pg.start() }, async (p) => {
        const ready = await l.get("/readyz");
        expect(ready.status).toBe(503);
        expect(ready.json.checks.postgres.ok).toBe(false);
        expect(ready.json.checks.redis.ok).toBe(true);
        const verify = await l.post("/verify", p.body);
        expect(verify.status, JSON.stringify(verify)).toBe(503);
        expect(verify.json.error).toBe("database_unavailable");
      });
    },
    CASE_TIMEOUT_MS,
  );

  it(
    "every backend of the facilitator terminated, again and again: nothing crashes, nothing is lost",
    async () => {
      lab = await openOutageLab();
      const l = lab;
      let cutting = false;
      let cuts = 0;
      let loop: Promise<void> = Promise.resolve();
      await settleThrough(
        l,
        {
          async begin() {
            cutting = true;
            loop = (async () => {
              while (cutting) {
                cuts += await l.pg.terminateBackends();
                await sleep(300);
              }
            })();
          },
          async end() {
            cutting = false;
            await loop;
          },
        },
        async () => {},
      );
      expect(cuts).toBeGreaterThan(10);
    },
    CASE_TIMEOUT_MS,
  );
});

describe("Redis goes away mid-flight", () => {
  it(
    "stopped for several seconds: new settlements get a JSON 503, verify still answers, all land once",
    async () => {
      lab = await openOutageLab({ privateRedis: true });
      const l = lab;
      await settleThrough(l, { begin: () => l.redis!.halt(), end: () => l.redis!.start() }, async (p) => {
        const ready = await l.get("/readyz");
        expect(ready.status).toBe(503);
        expect(ready.json.checks.redis.ok).toBe(false);
        expect(ready.json.checks.postgres.ok).toBe(true);
        // Verifying needs no queue: it still answers, and the verdict is the chain's.
        const verify = await l.post("/verify", p.body);
        expect(verify.status, JSON.stringify(verify)).toBe(200);
      });
    },
    CASE_TIMEOUT_MS,
  );

  it(
    "Postgres and Redis stopped together: both processes survive, every payment lands once",
    async () => {
      lab = await openOutageLab({ privateRedis: true });
      const l = lab;
      await settleThrough(
        l,
        {
          begin: async () => void (await Promise.all([l.pg.stop(), l.redis!.halt()])),
          end: async () => void (await Promise.all([l.pg.start(), l.redis!.start()])),
        },
        async () => {
          const ready = await l.get("/readyz");
          expect(ready.status).toBe(503);
          expect(ready.json.checks.postgres.ok).toBe(false);
          expect(ready.json.checks.redis.ok).toBe(false);
        },
      );
    },
    CASE_TIMEOUT_MS,
  );
});
