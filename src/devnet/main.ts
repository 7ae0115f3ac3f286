// `npm run devnet`: everything needed to try the facilitator on one machine. A local anvil
// chain posing as Base Sepolia with Circle's real USDC at its canonical address, a simulated
// Solana cluster posing as Solana devnet (LiteSVM: the real SVM and token programs, no
// validator), a fresh database, the api and the worker, and a merchant API paid through the
// official middleware.
// Ctrl-C stops all of it.
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseUnits } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { startMeteredServer } from "../../examples/metered-server.js";
import { startPaidServer } from "../../examples/paid-server.js";
import { loadConfig } from "../config/config.js";
import { createLogger } from "../logger.js";
import { startApi } from "../runtime/api.js";
import { startWorker } from "../runtime/worker.js";
import { ANVIL_KEYS, startAnvil } from "./anvil.js";
import { recreateDatabase } from "./database.js";
import { ensureMulticall3 } from "./multicall3.js";
import { deployPermit2Stack } from "./permit2.js";
import { BASE_SEPOLIA_USDC, deployUsdc, mintUsdc } from "./usdc.js";
import { SOLANA_DEVNET_USDC, startDevnetSolana } from "./solana/devnet-solana.js";

// A second devnet (or a test of this one) beside a running one names its own database and queue.
const DEVNET_DB = process.env.DEVNET_DATABASE ?? "x402_devnet";
const env = process.env;

async function main(): Promise<void> {
  const relayer = privateKeyToAccount(ANVIL_KEYS[0]);
  const buyer = privateKeyToAccount(ANVIL_KEYS[2]);
  const merchant = privateKeyToAccount(ANVIL_KEYS[3]).address;
  const port = Number(env.PORT ?? 4021);
  // 0.0.0.0 inside a container; the printed URLs are the ones to use from the same host.
  const host = env.HOST ?? "127.0.0.1";

  const anvil = await startAnvil({
    chainId: 84532,
    host,
    port: Number(env.DEVNET_RPC_PORT ?? 0),
    blockTime: env.DEVNET_BLOCK_TIME ? Number(env.DEVNET_BLOCK_TIME) : undefined,
  });
  const rpcShown = `http://127.0.0.1:${anvil.port}`;
  const solana = await startDevnetSolana({ host, port: Number(env.DEVNET_SOLANA_RPC_PORT ?? 8899) });
  const solanaShown = `http://127.0.0.1:${solana.port}`;
  const stops: Array<() => Promise<void>> = [() => anvil.stop(), () => solana.stop()];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  };
  try {
    const usdc = await deployUsdc(anvil.rpcUrl, { address: BASE_SEPOLIA_USDC });
    await ensureMulticall3(anvil.rpcUrl);
    await mintUsdc(anvil.rpcUrl, usdc, buyer.address, parseUnits("1000", 6));
    // Permit2, the x402 proxies and a token that only Permit2 can move (no EIP-3009), before the
    // api and worker start: placing Permit2 briefly switches the chain id.
    const stack = await deployPermit2Stack(anvil.rpcUrl);
    await stack.mint(buyer.address, parseUnits("1000", stack.token.decimals));
    const networksFile = join(tmpdir(), `x402-devnet-networks-${process.pid}.json`);
    writeFileSync(
      networksFile,
      JSON.stringify({
        networks: [
          {
            name: "base-sepolia",
            chainId: 84532,
            assets: [
              { address: usdc.address, name: "USDC", version: "2", decimals: 6, symbol: "USDC" },
              { ...stack.token, transferMethods: ["permit2"] },
            ],
          },
        ],
      }),
    );

    // Always an empty ledger: a new chain makes old rows meaningless.
    const databaseUrl = await recreateDatabase(env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres", DEVNET_DB);
    const config = loadConfig({
      DATABASE_URL: databaseUrl,
      REDIS_URL: env.REDIS_URL ?? "redis://127.0.0.1:6379",
      RPC_URL_BASE_SEPOLIA: anvil.rpcUrl,
      RPC_URL_SOLANA_DEVNET: solana.url,
      NETWORKS_FILE: networksFile,
      RELAYER_PRIVATE_KEY: ANVIL_KEYS[0],
      SOLANA_FEE_PAYER_KEY: solana.feePayer.secret,
      QUEUE_PREFIX: env.QUEUE_PREFIX ?? "x402devnet",
      PORT: String(port),
      HOST: host,
      LOG_LEVEL: env.LOG_LEVEL ?? "warn",
      ADMIN_API_KEY: env.ADMIN_API_KEY ?? "devnet-admin-key-change-me",
      SETTLE_WAIT_MS: env.SETTLE_WAIT_MS,
    });
    const logger = createLogger(config.logLevel);
    const worker = await startWorker(config, logger, { pollingMs: 200 });
    stops.push(worker.close);
    const api = await startApi(config, logger);
    stops.push(api.close);
    const facilitatorUrl = `http://127.0.0.1:${port}`;
    const shop = await startPaidServer({
      facilitatorUrl,
      payTo: merchant,
      host,
      port: Number(env.DEVNET_SHOP_PORT ?? 4022),
      permit2Token: stack.token,
      solana: { network: "solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1", payTo: solana.merchant },
    });
    stops.push(shop.close);
    const metered = await startMeteredServer({ facilitatorUrl, payTo: merchant, host, port: Number(env.DEVNET_METERED_PORT ?? 4023) });
    stops.push(metered.close);

    console.log(`
x402 facilitator devnet is running (Ctrl-C stops everything)

  facilitator  ${facilitatorUrl}        try: curl ${facilitatorUrl}/supported
  operator     ${facilitatorUrl}/settlements   with: -H "Authorization: Bearer ${config.adminApiKey}"
  chain        ${rpcShown}  Base Sepolia (84532), USDC at ${usdc.address}
  relayer      ${relayer.address} (anvil account 0)
  merchant     ${merchant} (anvil account 3), paid API ${shop.url}/weather for $0.01
  permit2      Permit2 ${stack.permit2}, exact proxy ${stack.exactProxy}
               ${stack.token.symbol} at ${stack.token.address} (EIP-2612, no EIP-3009): paid API ${shop.url}/weather-permit2
  metered      ${metered.url}/generate?tokens=N: upto, 10 USDC units per generated token, at most 1000
  buyer        ${buyer.address} (anvil account 2) holding 1000 USDC and 1000 ${stack.token.symbol}
               key ${ANVIL_KEYS[2]} (anvil's published test key: never use it on a real chain)
  solana       ${solanaShown}  SIMULATED Solana devnet (LiteSVM, no validator), USDC at ${SOLANA_DEVNET_USDC}
               fee payer ${solana.feePayer.address}, merchant ${solana.merchant}, paid API ${shop.url}/weather-solana
               buyer ${solana.buyer.address} holding 100 USDC and no SOL (a key made for this run)

Make a paid request with the official client:
  BUYER_PRIVATE_KEY=${ANVIL_KEYS[2]} npx tsx examples/pay.ts ${shop.url}/weather
Or through Permit2 (the buyer never approved it: the client signs an EIP-2612 permit, the relayer pays its gas):
  BUYER_PRIVATE_KEY=${ANVIL_KEYS[2]} PAY_ASSET=${stack.token.address} RPC_URL=${rpcShown} npx tsx examples/pay.ts ${shop.url}/weather-permit2
Or by use (upto: authorizes $0.01, is charged for 120 tokens only):
  BUYER_PRIVATE_KEY=${ANVIL_KEYS[2]} RPC_URL=${rpcShown} npx tsx examples/pay.ts "${metered.url}/generate?tokens=120"
Or on Solana (our fee payer pays the fee; the buyer holds no SOL):
  SOLANA_BUYER_KEY=${solana.buyer.secret} SOLANA_RPC_URL=${solanaShown} npx tsx examples/pay.ts ${shop.url}/weather-solana
`);
  } catch (err) {
    await stopAll();
    throw err;
  }

  let stopping = false;
  const onSignal = () => {
    if (stopping) return;
    stopping = true;
    console.log("stopping devnet…");
    void stopAll().then(() => process.exit(0));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}

main().catch((err: unknown) => {
  console.error(`devnet failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
