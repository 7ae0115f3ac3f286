// A throwaway database for the devnet and the bench: dropped if it exists, created, migrated.
import postgres from "postgres";
import { migrate } from "../db/migrate.js";

export async function recreateDatabase(serverUrl: string, name: string): Promise<string> {
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {}, connect_timeout: 5 });
  try {
    await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.unsafe(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const db = postgres(url.toString(), { max: 1, onnotice: () => {} });
  try {
    await migrate(db);
  } finally {
    await db.end();
  }
  return url.toString();
}
