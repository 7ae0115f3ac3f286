// The worker starts on a settlement when it hears the api's NOTIFY, not only when BullMQ hands it
// the job (src/worker/wakeups.ts). Shown here: a worker that sees none of the api's jobs (another
// queue prefix, no reconciler sweep after its first) still settles on the notification alone,
// and one told to use BullMQ only does not; and with two workers, each holding a relayer key of
// its own, every settlement is signed by the worker that took it, each authorization used once;
// and a worker that stops starts nothing new for the settlements waiting for one of its slots.
import { privateKeyToAccount } from "viem/accounts";
import { afterEach, beforeEach, expect, it } from "vitest";
import { Redis } from "ioredis";
import { ANVIL_KEYS } from "../src/devnet/anvil.js";
import { startTestChain, type TestChain } from "./support/chain.js";
import { usesOf } from "./support/chain-facts.js";
import { startFacilitator, type TestFacilitator } from "./support/facilitator.js";
import { fundedPayment } from "./support/payments.js";
import { startPrivatePostgres } from "./support/private-postgres.js";

const payTo = privateKeyToAccount(ANVIL_KEYS[3]).address;
const PRICE = 10_000n;
/** No periodic sweep within a test: only the first one, at the worker's start. */
const NO_SWEEP = { reconcileIntervalMs: 600_000 };

let chain: TestChain;
let fac: TestFacilitator;

beforeEach(async () => {
  chain = await startTestChain();
  fac = await startFacilitator(chain, { SETTLE_WAIT_MS: "10000", SETTLE_MAX_WAIT_MS: "10000" }, { worker: false });
});

afterEach(async () => {
  await fac?.close();
  await chain?.stop();
});

it("a worker that never sees the api's BullMQ jobs settles on the notification alone", async () => {
  await fac.startWorker({ QUEUE_PREFIX: `${fac.env.QUEUE_PREFIX}-elsewhere` }, NO_SWEEP);
  const payments = await Promise.all(Array.from({ length: 3 }, () => fundedPayment(chain, { payTo, value: PRICE })));
  const answers = await Promise.all(payments.map((p) => fac.settle(p.body)));
  answers.forEach((a) => expect(a.json).toMatchObject({ success: true, transaction: expect.stringMatching(/^0x[0-9a-f]{64}$/) }));
  for (const [i, p] of payments.entries())
    expect(await usesOf(chain, p.buyer.address, p.authorization.nonce)).toEqual([answers[i]!.json.transaction]);
});

it("the same worker on BullMQ only leaves them waiting (the test above rests on the notification)", async () => {
  await fac.startWorker({ QUEUE_PREFIX: `${fac.env.QUEUE_PREFIX}-elsewhere` }, { ...NO_SWEEP, fastPickup: false });
  const p = await fundedPayment(chain, { payTo, value: PRICE });
  const answer = await fac.settle(p.body);
  expect(answer.json).toMatchObject({ success: false, errorReason: "settlement_pending" });
  const [row] = await fac.sql<{ state: string }[]>`select state from settlements`;
  expect(row!.state).toBe("queued");
});

it("two workers: each settlement is signed by the worker that took it, each authorization used once", async () => {
  await fac.startWorker({ RELAYER_PRIVATE_KEY: ANVIL_KEYS[0] }, NO_SWEEP);
  await fac.startWorker({ RELAYER_PRIVATE_KEY: ANVIL_KEYS[1] }, NO_SWEEP);
  const payments = await Promise.all(Array.from({ length: 16 }, () => fundedPayment(chain, { payTo, value: PRICE })));
  const answers = await Promise.all(payments.map((p) => fac.settle(p.body)));
  answers.forEach((a) => expect(a.json).toMatchObject({ success: true }));
  for (const [i, p] of payments.entries())
    expect(await usesOf(chain, p.buyer.address, p.authorization.nonce)).toEqual([answers[i]!.json.transaction]);

  const rows = await fac.sql<{ id: string; relayer_address: string }[]>`select id, relayer_address from settlements`;
  const lanes = await fac.sql<{ address: string; lease_owner: string }[]>`select address, lease_owner from relayer_nonces`;
  const ownerOf = new Map(lanes.map((l) => [l.address.toLowerCase(), l.lease_owner]));
  expect(new Set(lanes.map((l) => l.lease_owner)).size).toBe(2);
  const redis = new Redis(fac.env.REDIS_URL!);
  try {
    const takers = await Promise.all(rows.map((r) => redis.get(`${fac.env.QUEUE_PREFIX}:take:${r.id}`)));
    rows.forEach((r, i) => expect(takers[i], `settlement ${r.id}`).toBe(ownerOf.get(r.relayer_address.toLowerCase())));
  } finally {
    redis.disconnect();
  }
});

it("a worker stopping while settlements wait for a free slot starts none of them; the next worker settles each once", async () => {
  const payments = await Promise.all(Array.from({ length: 3 }, () => fundedPayment(chain, { payTo, value: PRICE })));
  // No blocks until the test says so: the one settlement that starts waits for its receipt.
  await chain.test.setAutomine(false);
  const worker = await fac.startWorker({}, { concurrency: 1 });
  const answers = Promise.all(payments.map((p) => fac.settle(p.body)));
  const states = async () => (await fac.sql<{ state: string }[]>`select state from settlements order by state`).map((r) => r.state);
  for (const end = Date.now() + 10_000; Date.now() < end; await new Promise((r) => setTimeout(r, 100)))
    if ((await states()).join() === "queued,queued,submitted") break;
  expect(await states()).toEqual(["queued", "queued", "submitted"]);

  const closing = Date.now();
  await worker.close();
  expect(Date.now() - closing).toBeLessThan(8_000);
  expect(await states()).toEqual(["queued", "queued", "submitted"]);

  await chain.test.setAutomine(true);
  await chain.test.mine({ blocks: 1 });
  await fac.startWorker({}, { pollingMs: 100 });
  for (const end = Date.now() + 20_000; Date.now() < end; await new Promise((r) => setTimeout(r, 100)))
    if ((await states()).every((s) => s === "confirmed")) break;
  expect(await states()).toEqual(["confirmed", "confirmed", "confirmed"]);
  for (const p of payments) expect(await usesOf(chain, p.buyer.address, p.authorization.nonce)).toHaveLength(1);
  await answers;
});

it("after the database restarts, the worker hears new settlements again (its LISTEN comes back)", async () => {
  const pg = await startPrivatePostgres();
  try {
    await fac.close();
    fac = await startFacilitator(chain, { DATABASE_URL: pg.url, SETTLE_WAIT_MS: "10000", SETTLE_MAX_WAIT_MS: "10000" }, { worker: false });
    // Only the notification can bring settlements to this worker (another queue prefix, no sweep).
    await fac.startWorker({ QUEUE_PREFIX: `${fac.env.QUEUE_PREFIX}-elsewhere` }, NO_SWEEP);
    const before = await fundedPayment(chain, { payTo, value: PRICE });
    expect((await fac.settle(before.body)).json).toMatchObject({ success: true });

    await pg.stop();
    // Down long enough that the driver's first attempt to LISTEN again meets a closed port.
    await new Promise((r) => setTimeout(r, 2_000));
    await pg.start();
    // A notification sent before a LISTEN is back is lost to it by nature (this worker has no
    // other way in): the payment comes once both the api's and the worker's LISTEN are back
    // (the listener is registered before its LISTEN is sent). Never back: the answer stays pending.
    const listening = async () => {
      try {
        const [row] = await fac.sql<
          { n: number }[]
        >`select count(*)::int as n from pg_stat_activity where query ilike 'listen %settlement_changed%' and state = 'idle'`;
        return row!.n;
      } catch {
        return 0; // still reconnecting
      }
    };
    for (const end = Date.now() + 15_000; (await listening()) < 2 && Date.now() < end;) await new Promise((r) => setTimeout(r, 200));
    const after = await fundedPayment(chain, { payTo, value: PRICE });
    let answer = await fac.settle(after.body);
    // The api may still be reconnecting: a 503 claims nothing, and the same payment is sent again.
    for (const end = Date.now() + 15_000; answer.status === 503 && Date.now() < end; answer = await fac.settle(after.body))
      await new Promise((r) => setTimeout(r, 250));
    expect(answer.json).toMatchObject({ success: true });
    expect(await usesOf(chain, after.buyer.address, after.authorization.nonce)).toEqual([answer.json.transaction]);
  } finally {
    await fac.close();
    await pg.destroy();
  }
});
