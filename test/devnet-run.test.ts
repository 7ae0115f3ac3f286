// `npm run devnet` as a newcomer runs it, then the printed Solana command: the devnet comes up
// (anvil, the SIMULATED Solana cluster, the facilitator, the paid API) and examples/pay.ts pays
// its Solana route through the facilitator with the buyer key it printed.
import { spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { inject } from "vitest";
import { afterAll, expect, it } from "vitest";
import { freePort } from "./support/ports.js";
import { tail } from "./support/processes.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
let stop: (() => void) | undefined;
afterAll(() => stop?.());

it("runs, and examples/pay.ts pays the Solana route with the printed command", { timeout: 180_000 }, async () => {
  const [port, shop, metered] = await Promise.all([freePort(), freePort(), freePort()]);
  const child = spawn(process.execPath, ["--import", "tsx", "src/devnet/main.ts"], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      DATABASE_URL: inject("databaseServerUrl"),
      DEVNET_DATABASE: `${inject("databaseTemplate")}_devnet`,
      QUEUE_PREFIX: `${inject("redisPrefix")}:devnet`,
      REDIS_URL: inject("redisUrl"),
      PORT: String(port),
      DEVNET_RPC_PORT: "0",
      DEVNET_SOLANA_RPC_PORT: "0",
      DEVNET_SHOP_PORT: String(shop),
      DEVNET_METERED_PORT: String(metered),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  stop = () => child.kill("SIGKILL");
  let out = "";
  child.stdout.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr.on("data", (c: Buffer) => (out += c.toString()));
  const command = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`devnet did not come up:\n${tail(out)}`)), 150_000);
    child.on("exit", () => reject(new Error(`devnet exited:\n${tail(out)}`)));
    child.stdout.on("data", () => {
      const m = /^\s*(SOLANA_BUYER_KEY=\S+ SOLANA_RPC_URL=\S+ npx tsx examples\/pay\.ts \S+)$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
  });
  expect(out).toMatch(/SIMULATED Solana devnet/);
  const [key, rpc, , , script, url] = command.split(" ");
  const paid = spawnSync(process.execPath, ["--import", "tsx", script!, url!], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      [key!.split("=")[0]!]: key!.slice(key!.indexOf("=") + 1),
      SOLANA_RPC_URL: rpc!.split("=")[1]!,
    },
    encoding: "utf8",
    timeout: 60_000,
  });
  expect(paid.status, `${paid.stdout}\n${paid.stderr}`).toBe(0);
  expect(paid.stdout).toMatch(/HTTP 200/);
  expect(paid.stdout).toMatch(/"sky":"clear"/);
  expect(paid.stdout).toMatch(/success: true/);
});
