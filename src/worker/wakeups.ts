// How settlements reach the worker's state machine. The api's claim commits with a NOTIFY
// ("<id> queued", on the channel its own waiters listen to), and the worker starts on the
// settlement the moment it hears it, instead of when BullMQ hands over the job a few hundred
// milliseconds later. BullMQ stays the durable wake-up: its job for a settlement already moving
// here joins that run (one advance per settlement in a process), and it brings whatever the
// fast way missed (a notification lost while the connection was down, a worker not running, a
// crash, a settlement sent back to the queue by a later step).
//
// With several workers each hears every notification and the BullMQ job lands on one of them:
// whichever way reaches a worker first takes the settlement (a Redis key naming it, set only if
// absent), and the others leave it alone while the taker is alive. Without Redis nothing is
// taken on the fast way and BullMQ, back with Redis, brings everything; a settlement advanced twice stays exactly once (every
// transition is a compare-and-set), it only costs work.
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import type { Sql } from "postgres";
import { NOTIFY_CHANNEL } from "../db/settlements-repo.js";

/** How long a take holds against the other workers' BullMQ jobs (a crashed taker's lapse). */
const TAKE_MS = 30_000;
/** A worker's sign of life, renewed at a third of it. */
const ALIVE_MS = 6_000;

/**
 * takeForQueue in one atomic step: taken when the key is free, already ours, or left by a worker
 * whose alive key is gone (1); left alone when a live worker holds it (0). KEYS[1] the take key;
 * ARGV: owner, lapse in ms, the alive keys' prefix.
 */
const TAKE_FOR_QUEUE = `
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] and redis.call('EXISTS', ARGV[3] .. holder) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`;

type TakingRedis = Redis & { x402TakeForQueue(key: string, owner: string, ms: number, alivePrefix: string): Promise<number> };

export interface SettlementRuns {
  /** BullMQ's way in: joins this process's run of the settlement, or starts one when a slot is free. */
  fromQueue(id: string): Promise<string | undefined>;
  /** Starts listening; resolves once the LISTEN is in place. */
  listen(): Promise<void>;
  /** Stops listening and waits for the runs in flight (call once the worker is stopping). */
  close(): Promise<void>;
}

export function createSettlementRuns(o: {
  advance(id: string): Promise<string | undefined>;
  sql: Sql;
  redis: Redis;
  prefix: string;
  owner: string;
  /** Settlements this process moves at once (WORKER_CONCURRENCY). */
  maxInFlight: number;
  /** False: BullMQ only (tests of the queue's own recovery). */
  fast?: boolean;
  logger: Logger;
}): SettlementRuns {
  const inFlight = new Map<string, Promise<string | undefined>>();
  const slotWaiters: (() => void)[] = [];
  const takeKey = (id: string) => `${o.prefix}:take:${id}`;
  const aliveKey = (owner: string) => `${o.prefix}:alive:${owner}`;
  if (!("x402TakeForQueue" in o.redis)) o.redis.defineCommand("x402TakeForQueue", { numberOfKeys: 1, lua: TAKE_FOR_QUEUE });
  let heard: string[] = [];
  let unlisten: (() => Promise<void>) | undefined;
  let closed = false;

  function start(id: string): Promise<string | undefined> {
    const run = o.advance(id).finally(() => {
      inFlight.delete(id);
      slotWaiters.shift()?.();
    });
    inFlight.set(id, run);
    return run;
  }

  async function fromQueue(id: string): Promise<string | undefined> {
    for (;;) {
      const running = inFlight.get(id);
      if (running) return running;
      // Stopping: nothing new starts; the row stays where it is for the next worker.
      if (closed || !(await takeForQueue(id))) return undefined;
      if (inFlight.size < o.maxInFlight) return start(id);
      await new Promise<void>((r) => slotWaiters.push(r));
    }
  }

  /**
   * Takes the settlement for a BullMQ job, as the fast way does, unless another live worker holds
   * it (then false). A take left by a worker that is gone passes to this one; Redis trouble: true,
   * settle it here.
   */
  async function takeForQueue(id: string): Promise<boolean> {
    if (o.fast === false) return true;
    try {
      return (await (o.redis as TakingRedis).x402TakeForQueue(takeKey(id), o.owner, TAKE_MS, aliveKey(""))) === 1;
    } catch {
      return true;
    }
  }

  async function takeHeard() {
    const ids = [...new Set(heard)].filter((id) => !inFlight.has(id));
    heard = [];
    if (!ids.length || closed) return;
    let won: string[];
    try {
      const pipeline = o.redis.pipeline();
      for (const id of ids) pipeline.set(takeKey(id), o.owner, "PX", TAKE_MS, "NX");
      const results = (await pipeline.exec()) ?? [];
      won = ids.filter((_, i) => results[i]?.[1] === "OK");
    } catch {
      return; // BullMQ brings them once Redis is back.
    }
    for (const id of won) {
      // A full process leaves the rest to BullMQ, whose jobs wait for a free slot.
      if (inFlight.has(id) || inFlight.size >= o.maxInFlight) continue;
      start(id).catch((err: unknown) => o.logger.debug({ err, settlementId: id }, "settlement run failed; its job retries it"));
    }
  }

  let alive: NodeJS.Timeout | undefined;
  const beat = () => void o.redis.set(aliveKey(o.owner), "1", "PX", ALIVE_MS).catch(() => undefined);

  return {
    fromQueue,
    async listen() {
      if (o.fast === false) return;
      beat();
      alive = setInterval(beat, ALIVE_MS / 3);
      alive.unref();
      const sub = await o.sql.listen(NOTIFY_CHANNEL, (payload) => {
        const [id, state] = payload.split(" ");
        if (state !== "queued" || !id || inFlight.has(id)) return;
        if (heard.push(id) === 1) setImmediate(() => void takeHeard());
      });
      unlisten = () => sub.unlisten();
    },
    async close() {
      closed = true;
      for (const wake of slotWaiters.splice(0)) wake();
      clearInterval(alive);
      // Bounded: with the database away the UNLISTEN would wait for a connection.
      await Promise.race([unlisten?.().catch(() => undefined), new Promise((r) => setTimeout(r, 2_000).unref())]);
      // Not awaited: with Redis away the command would wait for its return (the connection
      // queues offline); the key lapses by itself.
      void o.redis.del(aliveKey(o.owner)).catch(() => undefined);
      // Runs end soon once the worker is stopping (everything they did is stored).
      await Promise.allSettled([...inFlight.values()]);
    },
  };
}
