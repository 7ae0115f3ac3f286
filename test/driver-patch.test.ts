// The postgres driver's closed-socket defect (patches/postgres+3.4.9.patch, README "Dependency
// defects"), reproduced at the driver itself: a backend terminated under a transaction and under
// a reserved connection. Unpatched, the next write on that connection (the ROLLBACK, the next
// query) is deferred with setImmediate, runs after the socket is gone and throws from the timer:
// the process dies. Patched, each waiting query is rejected with CONNECTION_CLOSED and the pool
// keeps working. The script (support/closed-socket-repro.mjs) runs in a process of its own, so
// that a crash is an exit code here, not a lost test worker.
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { expect, it } from "vitest";
import { createTestDatabase } from "./support/database.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

it("a backend terminated under a transaction or a reserved connection rejects the waiting queries; the process and the pool live on", async () => {
  const url = await createTestDatabase();
  const run = promisify(execFile);
  const { stdout } = await run(process.execPath, ["test/support/closed-socket-repro.mjs"], {
    cwd: ROOT,
    env: { ...process.env, TEST_DATABASE_URL: url },
    timeout: 30_000,
  }).catch((err: { code?: number; signal?: string; stderr?: string; stdout?: string }) => {
    throw new Error(`the driver took the process down or hung (exit ${err.code}, ${err.signal}):\n${err.stderr}\n${err.stdout}`);
  });
  expect(JSON.parse(stdout.trim())).toEqual([
    "transaction: CONNECTION_CLOSED",
    "reserved: CONNECTION_CLOSED",
    "reserved: CONNECTION_CLOSED",
    "pool: 1,2,3,4",
  ]);
});
