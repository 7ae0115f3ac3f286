// A Postgres cluster of the test's own (initdb into a temporary folder, its own port), for
// tests that stop or restart the database: the server every other test file uses is never
// touched. Needs the server binaries (Debian: postgresql); without them the test fails and says
// so. Postgres refuses to run as root, so as root the cluster runs as the `postgres` user.
import { execFile } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { chmod, chown, mkdtemp, rm } from "node:fs/promises";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import postgres from "postgres";
import { freePort } from "../../src/devnet/anvil.js";
import { migrate } from "../../src/db/migrate.js";

const run = promisify(execFile);

export interface PrivatePostgres {
  /** URL of a migrated database on the cluster, for the facilitator. */
  url: string;
  /** Hard stop (`-m immediate`): every backend dies at once, as in a crash. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** `pg_terminate_backend` on every connection to the facilitator's database; how many were ended. */
  terminateBackends(): Promise<number>;
  /** Removes the cluster. */
  destroy(): Promise<void>;
}

function binDir(): string {
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  const dir = versions.map((v) => join(root, v, "bin")).find((d) => existsSync(join(d, "pg_ctl")));
  if (!dir)
    throw new Error(
      "no Postgres server binaries under /usr/lib/postgresql: this test starts a private cluster (apt-get install postgresql)",
    );
  return dir;
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = binDir();
  const asRoot = userInfo().uid === 0;
  const dir = await mkdtemp(join(tmpdir(), "x402-pg-"));
  if (asRoot) {
    const { stdout } = await run("id", ["-u", "postgres"]);
    const { stdout: gid } = await run("id", ["-g", "postgres"]);
    await chown(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  await chmod(dir, 0o700);
  const pg = (tool: string, args: string[]) =>
    asRoot ? run("runuser", ["-u", "postgres", "--", join(bin, tool), ...args]) : run(join(bin, tool), args);

  const port = await freePort();
  const data = join(dir, "data");
  await pg("initdb", ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60`;
  const start = async () => void (await pg("pg_ctl", ["-D", data, "-o", options, "-l", join(dir, "log"), "-w", "-t", "30", "start"]));
  await start();

  const server = `postgres://postgres@127.0.0.1:${port}`;
  const admin = postgres(`${server}/postgres`, { max: 1, onnotice: () => {} });
  await admin.unsafe("CREATE DATABASE facilitator");
  const url = `${server}/facilitator`;
  const db = postgres(url, { max: 1, onnotice: () => {} });
  await migrate(db);
  await db.end();

  return {
    url,
    stop: async () => void (await pg("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"])),
    start,
    async terminateBackends() {
      const rows = await admin<{ ended: boolean }[]>`
        select pg_terminate_backend(pid) as ended from pg_stat_activity
        where datname = 'facilitator' and pid <> pg_backend_pid()`;
      return rows.filter((r) => r.ended).length;
    },
    async destroy() {
      await admin.end({ timeout: 1 }).catch(() => undefined);
      await pg("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
