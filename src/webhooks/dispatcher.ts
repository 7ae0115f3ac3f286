// The worker's webhook sender. Postgres says what is owed (webhook_deliveries); a sweep hands
// whatever is due to a BullMQ queue, whose jobs claim a delivery, send it, and record the
// outcome. Losing the queue (Redis flushed) or the worker (SIGKILL) only delays a delivery: the
// next sweep finds it again. Retries follow the Standard Webhooks schedule, or the receiver's
// Retry-After when it asks for longer; 410 Gone disables the endpoint.
import { Queue, Worker } from "bullmq";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import { attempt, DELIVERY_TIMEOUT_MS } from "./deliver.js";
import { liveSecrets, type WebhookStore } from "./store.js";

const QUEUE = "webhooks";
/** Before attempt n+1: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h; then give up. */
export const RETRY_DELAYS_MS = [0, 5e3, 3e5, 18e5, 72e5, 18e6, 36e6, 504e5, 72e6, 864e5];
const MAX_RETRY_AFTER_MS = 864e5;

export interface DispatcherDeps {
  store: WebhookStore;
  connection: Redis;
  prefix: string;
  logger: Logger;
  allowPrivate: boolean;
  sweepMs?: number;
  retryDelaysMs?: readonly number[];
  timeoutMs?: number;
  onResult?: (result: "delivered" | "retry" | "gave_up" | "disabled") => void;
  /** Crash tests: called once a delivery is claimed, before it is sent. */
  beforeSend?: () => void;
}

export function startWebhookDispatcher(deps: DispatcherDeps): { sweep(): Promise<void>; close(): Promise<void> } {
  const { store, logger } = deps;
  const delays = deps.retryDelaysMs ?? RETRY_DELAYS_MS;
  const timeoutMs = deps.timeoutMs ?? DELIVERY_TIMEOUT_MS;
  const queue = new Queue<{ id: string }>(QUEUE, { connection: deps.connection, prefix: deps.prefix });
  const workerConnection = deps.connection.duplicate();
  workerConnection.on("error", (err) => logger.warn({ err }, "redis connection error"));

  async function send(id: bigint): Promise<void> {
    const claimed = await store.claim(id, timeoutMs + 15_000);
    if (!claimed) return;
    deps.beforeSend?.();
    const { delivery, endpoint, event } = claimed;
    const out = await attempt({
      id: event.id,
      url: endpoint.url,
      body: event.body,
      secrets: liveSecrets(endpoint),
      allowPrivate: deps.allowPrivate,
      timeoutMs,
    });
    const log = { delivery: delivery.id.toString(), endpoint: endpoint.id, event: event.type, attempt: delivery.attempts + 1 };
    if (out.ok) {
      await store.record(delivery, { state: "delivered", status: out.status });
      logger.info({ ...log, status: out.status }, "webhook delivered");
      return deps.onResult?.("delivered");
    }
    if (out.gone) {
      await store.record(delivery, { state: "disabled", status: out.status, error: out.error });
      await store.disable(endpoint.id, "the receiver answered 410 Gone");
      logger.warn({ ...log }, "webhook endpoint disabled: the receiver answered 410 Gone");
      return deps.onResult?.("disabled");
    }
    const tried = delivery.attempts + 1;
    if (tried >= delays.length) {
      await store.record(delivery, { state: "failed", status: out.status, error: out.error });
      logger.error({ ...log, status: out.status, error: out.error }, "webhook given up after the last retry");
      return deps.onResult?.("gave_up");
    }
    const wait = Math.max(delays[tried]!, Math.min(out.retryAfterMs ?? 0, MAX_RETRY_AFTER_MS));
    await store.record(delivery, { state: "pending", status: out.status, error: out.error, nextAt: new Date(Date.now() + wait) });
    logger.warn({ ...log, status: out.status, error: out.error, retryInMs: wait }, "webhook not delivered; retried later");
    deps.onResult?.("retry");
  }

  // A job keeps its id while a dead worker still holds it, so the sweep cannot re-add it: a short
  // lock, checked often, hands it back within seconds (the delivery row's own claim decides who sends).
  const worker = new Worker<{ id: string }>(QUEUE, (job) => send(BigInt(job.data.id)), {
    connection: workerConnection,
    prefix: deps.prefix,
    concurrency: 32,
    lockDuration: 10_000,
    stalledInterval: 5_000,
  });
  worker.on("error", (err) => logger.warn({ err }, "webhook worker error"));
  worker.on("failed", (job, err) => logger.warn({ delivery: job?.data.id, err }, "webhook job failed; the sweep retries it"));

  let sweeping: Promise<void> = Promise.resolve();
  async function sweep(): Promise<void> {
    const ids = await store.due(500);
    await Promise.all(
      ids.map((id) => queue.add("deliver", { id: id.toString() }, { jobId: `wh-${id}`, removeOnComplete: true, removeOnFail: true })),
    );
  }
  const timer = setInterval(() => {
    sweeping = sweep().catch((err: unknown) => logger.warn({ err }, "webhook sweep failed"));
  }, deps.sweepMs ?? 1_000);
  timer.unref();

  return {
    sweep,
    async close() {
      clearInterval(timer);
      await sweeping;
      await worker.close();
      await queue.close();
      workerConnection.disconnect();
    },
  };
}
