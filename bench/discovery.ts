// The discovery scenario: /verify throughput with the Bazaar catalog on against off, on the same
// payloads, each of which declares the bazaar extension. The catalog is fed by settlements only
// (a verify moves no money), so with discovery on a verify costs what it did; this shows it.
// Rounds alternate off/on so drift of the shared machine falls on both; the figure is the median
// of each side. Target: on within 5% of off.
import { appendFileSync } from "node:fs";
import { declareDiscoveryExtension, validateDiscoveryExtension } from "@x402/extensions/bazaar";
import { freePort, ourEnv, startProcess, waitForHttp, OUR_MAIN } from "./lab.js";
import { run } from "./load.js";

const env = process.env;
const ROUNDS = Number(env.BENCH_DISCOVERY_ROUNDS ?? 3);
const SECONDS = Number(env.BENCH_DISCOVERY_SECONDS ?? 8);
const WARMUP = Number(env.BENCH_WARMUP_SECONDS ?? 3);
const CONNECTIONS = Number(env.BENCH_CONNECTIONS ?? 32);

/** The declaration a weather API's middleware would put in its 402 (method filled in, as the server extension does). */
function declaration() {
  const declared = declareDiscoveryExtension({
    input: { city: "Lisbon" },
    inputSchema: { properties: { city: { type: "string" } }, required: ["city"] },
    output: { example: { city: "Lisbon", sky: "clear", celsius: 21 } },
  }).bazaar as { info: { input: Record<string, unknown> }; schema: unknown };
  declared.info.input.method = "GET";
  if (!validateDiscoveryExtension(declared as never).valid) throw new Error("the bench's bazaar declaration does not validate");
  return declared;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function discoveryOverhead(lab: {
  rpcUrl: string;
  databaseUrl: string;
  sign(n: number): Promise<string[]>;
  payloads: number;
}) {
  const bazaar = declaration();
  const bodies = (await lab.sign(lab.payloads)).map((text) => {
    const body = JSON.parse(text) as { paymentPayload: Record<string, unknown> };
    body.paymentPayload.resource = {
      url: "https://weather.example/forecast",
      description: "Today's weather in any city",
      mimeType: "application/json",
    };
    body.paymentPayload.extensions = { bazaar };
    return JSON.stringify(body);
  });
  const rates: Record<"off" | "on", number[]> = { off: [], on: [] };
  let listed = 0;
  for (let round = 0; round < ROUNDS; round++) {
    for (const side of ["off", "on"] as const) {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const api = startProcess([OUR_MAIN, "api"], {
        ...ourEnv({ databaseUrl: lab.databaseUrl, rpcUrl: lab.rpcUrl, port, queuePrefix: `x402benchdisc${Date.now()}`, relayerKeys: [] }),
        DISCOVERY: side === "on" ? "1" : "0",
      });
      try {
        await waitForHttp(`${url}/healthz`);
        const load = {
          url,
          path: "/verify" as const,
          bodies,
          connections: CONNECTIONS,
          isOk: (j: { isValid?: boolean }) => j.isValid === true,
        };
        if (WARMUP > 0) await run({ ...load, durationS: WARMUP });
        const figures = await run({ ...load, durationS: SECONDS });
        rates[side].push(figures.requestsPerSec);
        console.error(
          `discovery ${side}, round ${round + 1}: ${figures.requestsPerSec.toFixed(0)} verify/s (${figures.ok}/${figures.answered} valid)`,
        );
        if (side === "on") {
          await new Promise((r) => setTimeout(r, 500));
          const page = (await (await fetch(`${url}/discovery/resources`)).json()) as { pagination: { total: number } };
          listed = page.pagination.total;
        }
      } finally {
        await api.stop();
      }
    }
  }
  const [off, on] = [median(rates.off), median(rates.on)];
  console.log(`discovery           off          on           on/off`);
  console.log(`verify req/s        ${off.toFixed(1).padEnd(12)} ${on.toFixed(1).padEnd(12)} ${((on / off - 1) * 100).toFixed(1)}%`);
  console.log(`rounds              ${rates.off.map((r) => r.toFixed(0)).join("/")}  ${rates.on.map((r) => r.toFixed(0)).join("/")}`);
  const record = {
    at: new Date().toISOString(),
    scenario: "discovery",
    rounds: ROUNDS,
    seconds: SECONDS,
    off: rates.off,
    on: rates.on,
    listed,
  };
  appendFileSync(new URL("./results.jsonl", import.meta.url), JSON.stringify(record) + "\n");
  console.log(`catalog entries after the verify load: ${listed} (verifies are not catalogued; settlements are)`);
}
