// Webhooks end to end: real payments settled on anvil, the real api and worker, and a real HTTP
// receiver that checks every signature. A delivery is owed from the moment the ledger commits
// the transition it reports, so a dead receiver, a SIGKILLed worker or a wiped Redis may delay it
// but never lose it or send it under another webhook-id; a 410 stops deliveries for good.
import { randomBytes, randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { privateKeyToAccount } from "viem/accounts";
import type { Address } from "viem";
import { afterAll, describe, expect, it } from "vitest";
import { ANVIL_KEYS } from "../src/devnet/anvil.js";
import type { WorkerOptions } from "../src/runtime/worker.js";
import { ADMIN_KEY, startFacilitator, type TestFacilitator } from "./support/facilitator.js";
import { useLab } from "./support/lab.js";
import { fundedPayment } from "./support/payments.js";
import { startPrivateRedis, type PrivateRedis } from "./support/private-redis.js";
import { killAllProcesses, spawnWorker, tail } from "./support/processes.js";
import { startWebhookReceiver, verifies, type Received, type Reply, type WebhookReceiver } from "./support/webhook-receiver.js";

const payTo = privateKeyToAccount(ANVIL_KEYS[3]).address;
const elsewhere = privateKeyToAccount(ANVIL_KEYS[4]).address;
const PRICE = 10_000n;
/** Retries 300 ms apart instead of the standard hours, found by a sweep every 100 ms. */
const FAST: WorkerOptions = { webhookSweepMs: 100, webhookRetryDelaysMs: [0, 300, 300, 300] };
const CONFIRMED = "settlement.confirmed";
/** Slack after a dead worker's claim lapses: many sweeps, and time to send. */
const AFTER_CLAIM_LAPSES_MS = 10_000;

const newSecret = () => `whsec_${randomBytes(32).toString("base64")}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const receivers: WebhookReceiver[] = [];
let privateRedis: PrivateRedis | undefined;

const lab = useLab({
  afterEach: async () => {
    await Promise.all(receivers.splice(0).map((r) => r.close()));
    await privateRedis?.stop();
    privateRedis = undefined;
  },
});

afterAll(async () => {
  await killAllProcesses();
});

async function receiver(secrets: Record<string, string> = {}): Promise<WebhookReceiver> {
  const r = await startWebhookReceiver(secrets);
  receivers.push(r);
  return r;
}

/** The receivers listen on loopback, which only WEBHOOK_ALLOW_PRIVATE_URLS=1 lets the facilitator reach. */
async function open(env: Record<string, string> = {}, worker: WorkerOptions | false = FAST): Promise<TestFacilitator> {
  lab.fac = await startFacilitator(lab.chain, { WEBHOOK_ALLOW_PRIVATE_URLS: "1", ...env }, { worker: false });
  if (worker) await lab.fac.startWorker({}, worker);
  return lab.fac;
}

async function call(method: string, path: string, body?: unknown, auth = true): Promise<{ status: number; json: any }> {
  const headers: Record<string, string> = auth ? { authorization: `Bearer ${ADMIN_KEY}` } : {};
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${lab.fac!.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

/** The secret is shown only in this answer, so the receiver is told it here or never. */
async function endpoint(to: WebhookReceiver, label: string, filters: { events?: string[]; payTo?: string[] } = {}) {
  const res = await call("POST", "/webhooks", { url: to.url, ...filters });
  expect(res.status, JSON.stringify(res.json)).toBe(201);
  expect(res.json.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
  to.trust(label, res.json.secret);
  return res.json as { id: string; secret: string };
}

async function pay(to: Address = payTo): Promise<{ id: string; transaction: string }> {
  const p = await fundedPayment(lab.chain, { payTo: to, value: PRICE });
  const res = await lab.fac!.settle(p.body);
  expect(res.json, JSON.stringify(res.json)).toMatchObject({ success: true });
  const found = await lab.fac!.admin(`/settlements/by-tx/${res.json.transaction}`);
  expect(found.status).toBe(200);
  return { id: found.json.id, transaction: res.json.transaction };
}

type DeliveryRow = {
  id: string;
  endpoint_id: string;
  event_id: string;
  type: string;
  settlement_id: string;
  body: string;
  state: string;
  attempts: number;
  last_status: number | null;
  last_error: string | null;
  locked_until: Date | null;
  next_attempt_at: Date;
};

const deliveries = (): Promise<DeliveryRow[]> =>
  lab.fac!.sql<DeliveryRow[]>`
    select d.id::text, d.endpoint_id::text, d.event_id::text, e.type, e.settlement_id::text, e.body, d.state, d.attempts,
      d.last_status, d.last_error, d.locked_until, d.next_attempt_at
    from webhook_deliveries d join webhook_events e on e.id = d.event_id
    order by d.id`;

async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms; last seen: ${JSON.stringify(v, null, 1)}`);
    await sleep(50);
  }
}

const deliveryOf = async (settlementId: string, type: string) =>
  (await deliveries()).find((d) => d.settlement_id === settlementId && d.type === type);

const waitDelivery = (settlementId: string, type: string, ok: (d: DeliveryRow) => boolean, what: string, timeoutMs = 10_000) =>
  until(
    () => deliveryOf(settlementId, type),
    (d) => !!d && ok(d),
    timeoutMs,
    what,
  ) as Promise<DeliveryRow>;

function gate(): { until: Promise<void>; open(): void } {
  let open!: () => void;
  const until = new Promise<void>((resolve) => (open = resolve));
  return { until, open };
}

/** Where each delivery's BullMQ job sits, for failure messages: a job that outlived its worker blocks the sweep's re-add (same job id). */
async function webhookJobs(deliveryIds: string[]): Promise<string> {
  const redis = new Redis(lab.fac!.env.REDIS_URL!, { maxRetriesPerRequest: 1 });
  try {
    const base = `${lab.fac!.env.QUEUE_PREFIX}:webhooks`;
    const [active, wait, stalled] = await Promise.all([
      redis.lrange(`${base}:active`, 0, -1),
      redis.lrange(`${base}:wait`, 0, -1),
      redis.smembers(`${base}:stalled`),
    ]);
    const lines = await Promise.all(
      deliveryIds.map(async (id) => {
        const job = `wh-${id}`;
        const [exists, lockTtl, checkTtl] = await Promise.all([
          redis.exists(`${base}:${job}`),
          redis.pttl(`${base}:${job}:lock`),
          redis.pttl(`${base}:stalled-check`),
        ]);
        const where = active.includes(job) ? "active" : wait.includes(job) ? "wait" : exists ? "other" : "no job";
        return (
          `${job}: ${where}${stalled.includes(job) ? ", marked stalled" : ""}, lock ttl ${lockTtl < 0 ? "none" : `${lockTtl} ms`}, ` +
          `next stalled check in ${checkTtl < 0 ? "-" : `${checkTtl} ms`}`
        );
      }),
    );
    return lines.join("\n");
  } finally {
    redis.disconnect();
  }
}

const signaturesIn = (r: Received) => String(r.headers["webhook-signature"]).split(" ");

describe("webhooks", () => {
  it("a confirmed payment is delivered once, signed, with the settlement as the operator API shows it", async () => {
    const secret = newSecret();
    const rx = await receiver({ env: secret });
    // The production sweep and retry schedule: nothing about a healthy delivery depends on the test's short ones.
    await open({ WEBHOOK_URL: rx.url, WEBHOOK_SECRET: secret }, {});

    const listed = await call("GET", "/webhooks");
    expect(listed.status).toBe(200);
    expect(listed.json.items).toEqual([
      expect.objectContaining({ url: rx.url, source: "env", disabledAt: null, events: null, payTo: null }),
    ]);
    expect(listed.json.items[0]).not.toHaveProperty("secret");

    const s = await pay();
    await rx.waitFor((r) => r.some((x) => x.json?.type === CONFIRMED), 15_000, "settlement.confirmed");
    // Long enough for a second sweep (every 1 s) to send anything twice.
    await sleep(2_000);

    const confirmed = rx.ofType(CONFIRMED);
    expect(confirmed).toHaveLength(1);
    expect(rx.ofType("settlement.submitted").length).toBeLessThanOrEqual(1);
    for (const r of rx.received) {
      expect(r.verifiedBy, r.body).toEqual(["env"]);
      expect(signaturesIn(r)).toHaveLength(1);
      expect(r.method).toBe("POST");
      expect(r.headers["content-type"]).toBe("application/json");
      expect(Math.abs(Number(r.headers["webhook-timestamp"]) - r.at / 1000)).toBeLessThan(60);
    }
    expect(new Set(rx.received.map((r) => r.id)).size).toBe(rx.received.length);

    const c = confirmed[0]!;
    expect(c.json.type).toBe(CONFIRMED);
    expect(new Date(c.json.timestamp).toISOString()).toBe(c.json.timestamp);
    const detail = await lab.fac!.admin(`/settlements/${s.id}`);
    expect(detail.json).toMatchObject({ id: s.id, state: "confirmed", transaction: s.transaction });
    const { events, transactions, ...resource } = detail.json;
    expect(events.at(-1).to).toBe("confirmed");
    expect(transactions.map((t: { hash: string }) => t.hash)).toContain(s.transaction);
    // The event is a snapshot taken in the confirming transaction; the api only afterwards
    // records that it answered /settle with success, which is the one field GET shows newer.
    expect(c.json.data).toEqual({ ...resource, successAnsweredAt: c.json.data.successAnsweredAt });
    expect([null, resource.successAnsweredAt]).toContain(c.json.data.successAnsweredAt);

    const row = (await deliveryOf(s.id, CONFIRMED))!;
    expect(row).toMatchObject({ state: "delivered", attempts: 1, last_status: 200, last_error: null, event_id: c.id });
    // Byte for byte what the ledger stored, which is what the signature covers.
    expect(c.body).toBe(row.body);
    // Nothing but the two events this payment's transitions owe.
    expect(rx.received).toHaveLength(rx.ofType(CONFIRMED).length + rx.ofType("settlement.submitted").length);
  });

  describe("retries", () => {
    it("a receiver that drops the connection, then answers 500, then 200 gets the same webhook-id each time", async () => {
      const rx = await receiver();
      await open();
      const ep = await endpoint(rx, "api", { events: [CONFIRMED] });
      rx.reply({ down: true }, { status: 500, body: "try again" }, { status: 200 });

      const s = await pay();
      const row = await waitDelivery(s.id, CONFIRMED, (d) => d.state !== "pending", "delivered after retries");
      expect(row).toMatchObject({ state: "delivered", attempts: 3, last_status: 200, last_error: null, endpoint_id: ep.id });

      const got = rx.received;
      expect(got.map((r) => ("status" in r.reply ? r.reply.status : "down"))).toEqual(["down", 500, 200]);
      expect(got.map((r) => r.id)).toEqual([row.event_id, row.event_id, row.event_id]);
      expect(got.every((r) => r.body === row.body && r.verifiedBy.join() === "api")).toBe(true);
      // Each retry waits out the schedule's 300 ms, counted from the failed answer.
      expect(got[1]!.at - got[0]!.at).toBeGreaterThanOrEqual(300);
      expect(got[2]!.at - got[1]!.at).toBeGreaterThanOrEqual(300);
      await sleep(500);
      expect(rx.received).toHaveLength(3);
    });

    it("Retry-After longer than the schedule holds the next attempt back that long", async () => {
      const rx = await receiver();
      await open();
      await endpoint(rx, "api", { events: [CONFIRMED] });
      rx.reply({ status: 503, headers: { "retry-after": "2" } }, { status: 200 });

      const s = await pay();
      const waiting = await waitDelivery(s.id, CONFIRMED, (d) => d.attempts === 1, "the 503 recorded");
      expect(waiting).toMatchObject({ state: "pending", last_status: 503 });
      expect(waiting.next_attempt_at.getTime() - rx.received[0]!.at).toBeGreaterThanOrEqual(2_000);

      const row = await waitDelivery(s.id, CONFIRMED, (d) => d.state === "delivered", "delivered after Retry-After");
      expect(row).toMatchObject({ attempts: 2, last_status: 200 });
      expect(rx.received).toHaveLength(2);
      expect(rx.received[1]!.at - rx.received[0]!.at).toBeGreaterThanOrEqual(2_000);
      expect(rx.received[1]!.id).toBe(rx.received[0]!.id);
      expect(rx.received.every((r) => r.verifiedBy.join() === "api")).toBe(true);
    });

    it("after the last retry the delivery is failed and nothing more is sent", async () => {
      const rx = await receiver();
      await open();
      await endpoint(rx, "api", { events: [CONFIRMED] });
      rx.reply(...Array.from({ length: 10 }, (): Reply => ({ status: 500 })));

      const s = await pay();
      const row = await waitDelivery(s.id, CONFIRMED, (d) => d.state !== "pending", "given up");
      expect(row).toMatchObject({ state: "failed", attempts: FAST.webhookRetryDelaysMs!.length, last_status: 500, last_error: "HTTP 500" });
      await sleep(800);
      expect(rx.received).toHaveLength(FAST.webhookRetryDelaysMs!.length);
      expect(new Set(rx.received.map((r) => r.id))).toEqual(new Set([row.event_id]));
    });
  });

  it("a 410 disables the endpoint: its pending deliveries are dropped and later events create none", async () => {
    const rx = await receiver();
    // A retry a minute away keeps the second delivery pending while the first is answered 410.
    await open({}, { webhookSweepMs: 100, webhookRetryDelaysMs: [0, 60_000] });
    const ep = await endpoint(rx, "api", { events: [CONFIRMED] });
    const held = gate();
    rx.reply({ until: held.until, then: { status: 410 } }, { status: 500 });

    const first = await pay();
    await rx.waitFor((r) => r.length === 1, 10_000, "the first delivery (held)");
    const second = await pay();
    const pending = await waitDelivery(second.id, CONFIRMED, (d) => d.attempts === 1, "the second delivery answered 500");
    expect(pending).toMatchObject({ state: "pending", last_status: 500 });

    held.open();
    const gone = await until(
      async () => (await call("GET", "/webhooks")).json.items.find((e: { id: string }) => e.id === ep.id),
      (e) => e?.disabledAt !== null,
      10_000,
      "the endpoint disabled",
    );
    expect(gone.disabledReason).toMatch(/410/);
    expect(Date.parse(gone.disabledAt)).toBeLessThanOrEqual(Date.now());
    expect(await deliveryOf(first.id, CONFIRMED)).toMatchObject({ state: "disabled", attempts: 1, last_status: 410 });
    expect(await deliveryOf(second.id, CONFIRMED)).toMatchObject({ state: "disabled", attempts: 1 });
    const listed = await call("GET", `/webhooks/${ep.id}/deliveries?state=disabled`);
    expect(listed.json.items.map((d: { settlementId: string }) => d.settlementId).sort()).toEqual([first.id, second.id].sort());

    const third = await pay();
    await until(
      () => lab.fac!.sql`select 1 from webhook_events where settlement_id = ${third.id} and type = ${CONFIRMED}`,
      (r) => r.length === 1,
      10_000,
      "the third payment's confirmed event",
    );
    expect(await deliveryOf(third.id, CONFIRMED)).toBeUndefined();
    await sleep(1_000);
    expect(rx.received).toHaveLength(2);
    expect(rx.received.every((r) => r.verifiedBy.join() === "api")).toBe(true);
  });

  it("a worker SIGKILLed after claiming a delivery, before sending it: a fresh worker sends it once the claim lapses, same webhook-id", async () => {
    const secret = newSecret();
    const rx = await receiver({ env: secret });
    const fac = await open({ WEBHOOK_URL: rx.url, WEBHOOK_SECRET: secret, SETTLE_WAIT_MS: "1500" }, false);
    const faulty = spawnWorker({ ...fac.env, FAULT_POINT: "before_webhook_delivery" });
    try {
      await faulty.ready();
      const p = await fundedPayment(lab.chain, { payTo, value: PRICE });
      await fac.settle(p.body);
      const exit = await Promise.race([faulty.exited, sleep(20_000).then(() => "still running")]);
      expect(exit, tail(faulty.output())).toEqual({ code: null, signal: "SIGKILL" });
    } finally {
      await faulty.kill();
    }

    // What the crash left: a claim held by nobody alive, nothing sent, no attempt counted.
    const left = await deliveries();
    const claimed = left.filter((d) => d.locked_until && d.locked_until.getTime() > Date.now());
    expect(claimed.length, JSON.stringify(left)).toBeGreaterThanOrEqual(1);
    expect(left.every((d) => d.state === "pending" && d.attempts === 0)).toBe(true);
    expect(rx.received).toHaveLength(0);
    const settlementId = left[0]!.settlement_id;

    await fac.startWorker({}, { webhookSweepMs: 100 });
    // The dead worker's claim is the only thing that may hold a delivery back; once it lapses,
    // the sweep (every 100 ms) owes it at once, and a delivery it never claimed owes no wait at all.
    const lapsed = Math.max(...claimed.map((c) => c.locked_until!.getTime()));
    await rx
      .waitFor(
        (r) => claimed.every((c) => r.some((x) => x.id === c.event_id)) && r.some((x) => x.json?.type === CONFIRMED),
        lapsed + AFTER_CLAIM_LAPSES_MS - Date.now(),
        `the claimed deliveries (claim lapsing ${new Date(lapsed).toISOString()}) and settlement.confirmed`,
      )
      .catch(async (err: Error) => {
        const rows = (await deliveries()).map(({ body: _, ...d }) => d);
        throw new Error(
          `${err.message}\nat ${new Date().toISOString()} the ledger says ${JSON.stringify(rows, null, 1)}\n` +
            `and the webhook queue:\n${await webhookJobs(rows.map((d) => d.id))}`,
        );
      });
    await sleep(1_000);

    // Once each, under the event's id, and never while the dead worker's claim still held.
    const ids = rx.received.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const c of claimed) {
      const sent = rx.received.filter((r) => r.id === c.event_id);
      expect(sent).toHaveLength(1);
      expect(sent[0]!.at).toBeGreaterThanOrEqual(c.locked_until!.getTime());
      expect(sent[0]!.body).toBe(c.body);
    }
    expect(rx.received.every((r) => r.verifiedBy.join() === "env")).toBe(true);
    const confirmed = await waitDelivery(settlementId, CONFIRMED, (d) => d.state === "delivered", "confirmed delivered");
    expect(confirmed.attempts).toBe(1);
    expect(rx.ofType(CONFIRMED).map((r) => r.id)).toEqual([confirmed.event_id]);
    expect((await deliveries()).every((d) => d.state === "delivered" && d.attempts === 1)).toBe(true);
  }, 75_000);

  it("Redis wiped (FLUSHALL) while a delivery's job is in the queue: the delivery still completes", async () => {
    privateRedis = await startPrivateRedis();
    const rx = await receiver();
    const fac = await open({ REDIS_URL: privateRedis.url });
    await endpoint(rx, "api", { events: [CONFIRMED] });
    const held = gate();
    rx.reply({ until: held.until, then: { status: 500 } }, { status: 200 });

    const s = await pay();
    await rx.waitFor((r) => r.length === 1, 10_000, "the first attempt (held)");
    const inFlight = (await deliveryOf(s.id, CONFIRMED))!;
    expect(await privateRedis.client.exists(`${fac.env.QUEUE_PREFIX}:webhooks:wh-${inFlight.id}`)).toBe(1);

    await privateRedis.client.flushall();
    expect(await privateRedis.client.dbsize()).toBe(0);
    held.open();

    const row = await waitDelivery(s.id, CONFIRMED, (d) => d.state === "delivered", "delivered after FLUSHALL", 15_000);
    expect(row).toMatchObject({ attempts: 2, last_status: 200 });
    expect(rx.received.map((r) => r.id)).toEqual([row.event_id, row.event_id]);
    expect(rx.received.every((r) => r.verifiedBy.join() === "api")).toBe(true);
  });

  it("after a rotation both secrets sign: a receiver holding either one verifies the delivery", async () => {
    const rx = await receiver();
    await open();
    const ep = await endpoint(rx, "A", { events: [CONFIRMED] });

    const before = await pay();
    await rx.waitFor((r) => r.length === 1, 10_000, "the delivery before the rotation");
    expect(signaturesIn(rx.received[0]!)).toHaveLength(1);
    expect(rx.received[0]!.verifiedBy).toEqual(["A"]);

    const rotated = await call("POST", `/webhooks/${ep.id}/rotate`);
    expect(rotated.status).toBe(200);
    expect(rotated.json.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(rotated.json.secret).not.toBe(ep.secret);
    const overlapMs = Date.parse(rotated.json.previousSecretValidUntil) - Date.now();
    expect(overlapMs).toBeGreaterThan(24 * 3600_000 - 60_000);
    expect(overlapMs).toBeLessThanOrEqual(24 * 3600_000);
    rx.trust("B", rotated.json.secret);

    const after = await pay();
    await rx.waitFor((r) => r.length === 2, 10_000, "the delivery after the rotation");
    const r = rx.received[1]!;
    expect(r.json.data.id).toBe(after.id);
    expect(signaturesIn(r)).toHaveLength(2);
    expect(signaturesIn(r).every((sig) => sig.startsWith("v1,"))).toBe(true);
    expect(r.verifiedBy).toEqual(["A", "B"]);
    expect(verifies(ep.secret, r)).toBe(true);
    expect(verifies(rotated.json.secret, r)).toBe(true);
    expect(verifies(newSecret(), r)).toBe(false);
    // The delivery before the rotation was signed with A alone: B cannot vouch for it.
    expect(verifies(rotated.json.secret, rx.received[0]!)).toBe(false);
    expect(rx.received[0]!.json.data.id).toBe(before.id);
  });

  describe("admin API", () => {
    it("filters by event and payTo, validates its input, lists deliveries, replays, deletes", async () => {
      const rx = await receiver();
      await open();

      const unauthorized = await call("POST", "/webhooks", { url: rx.url }, false);
      expect(unauthorized.status).toBe(401);
      const bad: [unknown, string, RegExp][] = [
        [{}, "url", /url/],
        [{ url: 42 }, "url", /url/],
        [{ url: "ftp://example.com/hook" }, "url", /http\(s\)/],
        [{ url: "https://user:pw@example.com/hook" }, "url", /credentials/],
        [{ url: rx.url, events: ["settlement.paid"] }, "events.0", /events\.0/],
        [{ url: rx.url, events: [] }, "events", /events/],
        [{ url: rx.url, payTo: ["0x1234"] }, "payTo.0", /payTo\.0.*address/],
        [{ url: rx.url, colour: "red" }, "(body)", /colour/],
      ];
      for (const [body, field, message] of bad) {
        const res = await call("POST", "/webhooks", body);
        expect(res, JSON.stringify(body)).toMatchObject({ status: 400, json: { error: "invalid_request", field } });
        expect(res.json.message, JSON.stringify(body)).toMatch(message);
      }
      expect((await call("GET", "/webhooks")).json.items).toEqual([]);

      const onlyFailed = await endpoint(rx, "onlyFailed", { events: ["settlement.failed"] });
      const otherPayTo = await endpoint(rx, "otherPayTo", { payTo: [elsewhere] });
      const match = await endpoint(rx, "match", { events: [CONFIRMED], payTo: [payTo] });
      const listed = (await call("GET", "/webhooks")).json.items;
      expect(listed.map((e: { id: string }) => e.id)).toEqual([onlyFailed.id, otherPayTo.id, match.id]);
      expect(listed.find((e: { id: string }) => e.id === match.id)).toMatchObject({
        events: [CONFIRMED],
        payTo: [payTo.toLowerCase()],
        source: "api",
        disabledAt: null,
      });
      expect(listed.every((e: object) => !("secret" in e))).toBe(true);

      const s = await pay();
      await rx.waitFor((r) => r.length === 1, 10_000, "the matching endpoint's delivery");
      await sleep(1_000);
      expect(rx.received).toHaveLength(1);
      expect(rx.received[0]!.verifiedBy).toEqual(["match"]);
      expect((await deliveries()).map((d) => [d.endpoint_id, d.type])).toEqual([[match.id, CONFIRMED]]);
      for (const ep of [onlyFailed, otherPayTo])
        expect(await call("GET", `/webhooks/${ep.id}/deliveries`)).toEqual({ status: 200, json: { items: [] } });

      const row = await waitDelivery(s.id, CONFIRMED, (d) => d.state === "delivered", "delivered");
      const shown = await call("GET", `/webhooks/${match.id}/deliveries`);
      expect(shown.status).toBe(200);
      expect(shown.json.items).toEqual([
        expect.objectContaining({
          id: row.id,
          eventId: rx.received[0]!.id,
          type: CONFIRMED,
          settlementId: s.id,
          state: "delivered",
          attempts: 1,
          lastStatus: 200,
          lastError: null,
          deliveredAt: expect.any(String),
        }),
      ]);
      expect((await call("GET", `/webhooks/${match.id}/deliveries?state=pending`)).json.items).toEqual([]);
      expect((await call("GET", `/webhooks/${match.id}/deliveries?state=delivered&limit=1`)).json.items).toHaveLength(1);

      // Only through the endpoint it belongs to.
      expect((await call("POST", `/webhooks/${onlyFailed.id}/deliveries/${row.id}/replay`)).status).toBe(404);
      const replay = await call("POST", `/webhooks/${match.id}/deliveries/${row.id}/replay`);
      expect(replay).toMatchObject({ status: 202, json: { id: row.id, state: "pending" } });
      await rx.waitFor((r) => r.length === 2, 10_000, "the replayed delivery");
      const [original, again] = rx.received;
      expect(again!.id).toBe(original!.id);
      expect(again!.body).toBe(original!.body);
      expect(again!.verifiedBy).toEqual(["match"]);
      await waitDelivery(s.id, CONFIRMED, (d) => d.state === "delivered" && d.attempts === 1, "the replay recorded");
      await sleep(500);
      expect(rx.received).toHaveLength(2);

      const unknown = randomUUID();
      for (const [method, path] of [
        ["DELETE", `/webhooks/${unknown}`],
        ["POST", `/webhooks/${unknown}/rotate`],
        ["GET", `/webhooks/${unknown}/deliveries`],
        ["POST", `/webhooks/${unknown}/deliveries/1/replay`],
        ["POST", `/webhooks/${match.id}/deliveries/999999/replay`],
      ] as const)
        expect(await call(method, path), `${method} ${path}`).toMatchObject({ status: 404, json: { error: "not_found" } });
      for (const [method, path, field] of [
        ["DELETE", "/webhooks/not-a-uuid", "id"],
        ["GET", `/webhooks/${match.id}/deliveries?state=bogus`, "state"],
        ["GET", `/webhooks/${match.id}/deliveries?limit=0`, "limit"],
        ["GET", `/webhooks/${match.id}/deliveries?limit=501`, "limit"],
        ["POST", `/webhooks/${match.id}/deliveries/abc/replay`, "deliveryId"],
      ] as const)
        expect(await call(method, path), `${method} ${path}`).toMatchObject({ status: 400, json: { error: "invalid_request", field } });

      expect((await call("DELETE", `/webhooks/${onlyFailed.id}`)).status).toBe(204);
      expect((await call("GET", "/webhooks")).json.items.map((e: { id: string }) => e.id)).toEqual([otherPayTo.id, match.id]);
      expect((await call("DELETE", `/webhooks/${onlyFailed.id}`)).status).toBe(404);
    });

    it("without WEBHOOK_ALLOW_PRIVATE_URLS, private and loopback targets are refused at create and at delivery", async () => {
      const secret = newSecret();
      const rx = await receiver({ env: secret });
      await open({ WEBHOOK_ALLOW_PRIVATE_URLS: "0", WEBHOOK_URL: rx.url, WEBHOOK_SECRET: secret });

      for (const url of [
        rx.url,
        "http://localhost:8080/hook",
        "http://[::1]:8080/hook",
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::ffff:127.0.0.1]/hook",
      ]) {
        const res = await call("POST", "/webhooks", { url });
        expect(res, url).toMatchObject({ status: 400, json: { error: "invalid_request", field: "url" } });
        expect(res.json.message, url).toMatch(/private or special-use/);
      }
      expect((await call("GET", "/webhooks")).json.items.map((e: { source: string }) => e.source)).toEqual(["env"]);

      // The env endpoint exists (the operator named it), but the worker will not connect to it.
      const s = await pay();
      const row = await waitDelivery(s.id, CONFIRMED, (d) => d.state !== "pending", "given up");
      expect(row).toMatchObject({ state: "failed", attempts: FAST.webhookRetryDelaysMs!.length, last_status: null });
      expect(row.last_error).toMatch(/private or special-use/);
      expect(rx.received).toHaveLength(0);
    });
  });
});
