// Each api or facilitator a test starts gets a database of its own, cloned from the migrated
// template: workers sweep every open row of their ledger, so two tests (on two different
// anvil chains) must never share one.
import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { inject } from "vitest";

let admin: postgres.Sql | undefined;

export async function createTestDatabase(): Promise<string> {
  admin ??= postgres(inject("databaseServerUrl"), { max: 1, onnotice: () => {} });
  const name = `${inject("databaseTemplate")}_${randomBytes(4).toString("hex")}`;
  await admin.unsafe(`CREATE DATABASE ${name} TEMPLATE ${inject("databaseTemplate")}`);
  const url = new URL(inject("databaseServerUrl"));
  url.pathname = `/${name}`;
  return url.toString();
}
