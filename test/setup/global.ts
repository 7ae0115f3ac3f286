// Gives the whole run its own Postgres database (migrated) and Redis key prefix, and removes
// both afterwards. Services come from DATABASE_URL / REDIS_URL when set, otherwise from
// testcontainers when a Docker engine answers; with neither, the run fails and says why.
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

async function servicesFromContainers(): Promise<{ databaseUrl: string; redisUrl: string; stop(): Promise<void> }> {
  let containers: typeof import("@testcontainers/postgresql");
  let redisModule: typeof import("@testcontainers/redis");
  try {
    containers = await import("@testcontainers/postgresql");
    redisModule = await import("@testcontainers/redis");
    const pg = await new containers.PostgreSqlContainer("postgres:16-alpine").start();
    const rd = await new redisModule.RedisContainer("redis:7-alpine").start();
    return {
      databaseUrl: pg.getConnectionUri().replace(/\/[^/]+$/, "/postgres"),
      redisUrl: rd.getConnectionUrl(),
      stop: async () => {
        await Promise.all([pg.stop(), rd.stop()]);
      },
    };
  } catch (err) {
    throw new Error(
      "The tests need Postgres and Redis: set DATABASE_URL and REDIS_URL (e.g. postgres://postgres@127.0.0.1:5432/postgres " +
        `and redis://127.0.0.1:6379), or run a Docker engine for testcontainers. (${(err as Error).message.split("\n")[0]})`,
    );
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let base = { databaseUrl: process.env.DATABASE_URL ?? "", redisUrl: process.env.REDIS_URL ?? "", stop: async () => {} };
  if (!base.databaseUrl || !base.redisUrl) base = await servicesFromContainers();

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
