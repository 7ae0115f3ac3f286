// Run by test/driver-patch.test.ts in a process of its own: terminates backends under a
// transaction and under a reserved connection, then prints what each waiting query heard.
import postgres from "postgres";

const url = process.env.TEST_DATABASE_URL;
const admin = postgres(url, { max: 1, onnotice() {} });
const sql = postgres(url, { max: 2, onnotice() {} });
const seen = [];
const kill = async (pid) => {
  await admin`select pg_terminate_backend(${pid})`;
  await new Promise((r) => setTimeout(r, 50));
};

try {
  await sql.begin(async (tx) => {
    const [{ pid }] = await tx`select pg_backend_pid() as pid`;
    await kill(pid);
    await tx`select 1`;
  });
  seen.push("transaction: committed");
} catch (e) {
  seen.push(`transaction: ${e.code}`);
}

const reserved = await sql.reserve();
const [{ pid }] = await reserved`select pg_backend_pid() as pid`;
await kill(pid);
for (const n of [1, 2]) {
  try {
    await reserved`select ${n}`;
    seen.push("reserved: answered");
  } catch (e) {
    seen.push(`reserved: ${e.code}`);
  }
}
reserved.release();

const answers = await Promise.all([1, 2, 3, 4].map((n) => sql`select ${n}::int as n`.then(([r]) => r.n)));
seen.push(`pool: ${answers.join(",")}`);
await sql.end({ timeout: 5 });
await admin.end();
console.log(JSON.stringify(seen));
