// The noisy client of the rate-limit isolation scenario, on a thread of its own so its sending
// does not delay the calm client's: for each URL it is sent, fires its requests there as fast as
// its connections allow, and posts back its figures with when it started and when its last answer
// came (epoch ms, sub-ms precision: autocannon itself only notices it is done at its next
// one-second tick).
import { parentPort, workerData } from "node:worker_threads";
import { performance } from "node:perf_hooks";
import { run } from "./load.js";

const o = workerData as { bodies: string[]; connections: number; amount: number; key: string };
const epochNow = () => performance.timeOrigin + performance.now();
parentPort!.on("message", async (url: string) => {
  const statuses: Record<number, number> = {};
  const startedAt = epochNow();
  let endedAt = startedAt;
  const figures = await run({
    url,
    path: "/verify",
    bodies: o.bodies,
    connections: o.connections,
    amount: o.amount,
    headers: { authorization: `Bearer ${o.key}` },
    onStatus: (s) => {
      statuses[s] = (statuses[s] ?? 0) + 1;
      endedAt = epochNow();
    },
    isOk: (j: { isValid?: boolean }) => j.isValid === true,
  });
  parentPort!.postMessage({ startedAt, endedAt, figures, statuses });
});
parentPort!.postMessage("ready");
