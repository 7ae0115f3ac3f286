// Gives the whole run its own Postgres database (migrated) and Redis key prefix, and removes
// both afterwards. Each service comes from DATABASE_URL / REDIS_URL when set, otherwise from the
// local server on its default port when one answers (as `npm run devnet` does), otherwise from
// testcontainers when a Docker engine answers; with none of these, the run fails and names what
// to start.
import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { Redis } from "ioredis";
import type { TestProject } from "vitest/node";
import { migrate } from "../../src/db/migrate.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** A server URL (any database on it) from which test databases are created. */
    databaseServerUrl: string;
    /** The migrated database every test database is cloned from (never connected to directly). */
    databaseTemplate: string;
    redisUrl: string;
    redisPrefix: string;
  }
}

const LOCAL_POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres";
const LOCAL_REDIS = "redis://127.0.0.1:6379";

async function postgresAnswers(url: string): Promise<boolean> {
  const sql = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 3 });
  try {
    await sql`select 1`;
    return true;
  } catch {
    return false;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

async function redisAnswers(url: string): Promise<boolean> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 3_000 });
  redis.on("error", () => {});
  try {
    await redis.connect();
    return (await redis.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

interface Services {
  databaseUrl: string;
  redisUrl: string;
  stop(): Promise<void>;
}

async function container<T>(start: () => Promise<T>): Promise<T | Error> {
  try {
    return await start();
  } catch (err) {
    return err as Error;
  }
}

/** Given URLs first, then the local servers on their default ports, then containers for whatever is still missing. */
async function findServices(): Promise<Services> {
  let databaseUrl = process.env.DATABASE_URL || ((await postgresAnswers(LOCAL_POSTGRES)) ? LOCAL_POSTGRES : "");
  let redisUrl = process.env.REDIS_URL || ((await redisAnswers(LOCAL_REDIS)) ? LOCAL_REDIS : "");
  const stops: Array<() => Promise<unknown>> = [];
  const problems: string[] = [];
  if (!databaseUrl) {
    const pg = await container(async () => {
      const { PostgreSqlContainer } = await import("@testcontainers/postgresql");
      return new PostgreSqlContainer("postgres:16-alpine").start();
    });
    if (pg instanceof Error) problems.push(`Postgres (start it on 127.0.0.1:5432 with user postgres, or set DATABASE_URL)`);
    else {
      databaseUrl = pg.getConnectionUri().replace(/\/[^/]+$/, "/postgres");
      stops.push(() => pg.stop());
    }
  }
  if (!redisUrl) {
    const rd = await container(async () => {
      const { RedisContainer } = await import("@testcontainers/redis");
      return new RedisContainer("redis:7-alpine").start();
    });
    if (rd instanceof Error) problems.push(`Redis (start it on 127.0.0.1:6379, or set REDIS_URL)`);
    else {
      redisUrl = rd.getConnectionUrl();
      stops.push(() => rd.stop());
    }
  }
  const stop = async () => void (await Promise.allSettled(stops.map((s) => s())));
  if (problems.length) {
    await stop();
    throw new Error(
      `The tests need ${problems.join(" and ")}: nothing answered on the default local port and no Docker engine ` +
        "answered for testcontainers. On Debian: pg_ctlcluster <version> main start; redis-server --daemonize yes.",
    );
  }
  return { databaseUrl, redisUrl, stop };
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const base = await findServices();

  const runId = `${Date.now().toString(36)}_${randomBytes(3).toString("hex")}`;
  const dbName = `x402_test_${runId}`;
  const admin = postgres(base.databaseUrl, { max: 1, onnotice: () => {}, connect_timeout: 5 });
  try {
    await admin.unsafe(`CREATE DATABASE ${dbName}`);
  } catch (err) {
    await admin.end();
    throw new Error(`cannot create the test database through DATABASE_URL: ${(err as Error).message}`);
  }
  const url = new URL(base.databaseUrl);
  url.pathname = `/${dbName}`;
  const databaseUrl = url.toString();
  const db = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  await migrate(db);
  await db.end();

  const redisPrefix = `x402test:${runId}`;
  const redis = new Redis(base.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    await admin.end();
    throw new Error(`Redis at REDIS_URL does not answer: ${(err as Error).message}`);
  }

  project.provide("databaseServerUrl", base.databaseUrl);
  project.provide("databaseTemplate", dbName);
  project.provide("redisUrl", base.redisUrl);
  project.provide("redisPrefix", redisPrefix);

  return async () => {
    // Only what this run created: its databases and keys under its prefix.
    const made = await admin<{ datname: string }[]>`SELECT datname FROM pg_database WHERE datname LIKE ${`${dbName}%`}`;
    for (const { datname } of made) await admin.unsafe(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
    await admin.end();
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${redisPrefix}*`, "COUNT", 500);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== "0");
    redis.disconnect();
    await base.stop();
  };
}
