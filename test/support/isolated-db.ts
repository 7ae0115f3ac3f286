// A migrated Postgres database of the test file's own, next to the run's database.
//
// Why: the run's database is shared by every test file, and each file runs its own anvil chain
// with the same chain id (84532) and the same relayer (anvil account 0). In one shared database
// the relayer's nonce lane (relayer_nonces) and the worker's reconciler sweep (every open row,
// whichever file created it) leak from one file's chain into another's when files run in
// parallel. Pass `{ DATABASE_URL: db.url }` to startFacilitator to keep a file to itself.
import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { inject } from "vitest";
import { migrate } from "../../src/db/migrate.js";

export interface IsolatedDatabase {
  url: string;
  drop(): Promise<void>;
}

export async function createIsolatedDatabase(label = "file"): Promise<IsolatedDatabase> {
  const base = inject("databaseUrl");
  const name = `${new URL(base).pathname.slice(1)}_${label.replace(/[^a-z0-9_]/gi, "").toLowerCase()}_${randomBytes(3).toString("hex")}`.slice(0, 63);
  const admin = postgres(base, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(base);
  url.pathname = `/${name}`;
  const db = postgres(url.toString(), { max: 1, onnotice: () => {} });
  try {
    await migrate(db);
  } finally {
    await db.end();
  }
  return {
    url: url.toString(),
    async drop() {
      const a = postgres(base, { max: 1, onnotice: () => {} });
      try {
        await a.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await a.end();
      }
    },
  };
}
