// The worker's metrics: how long each settlement stage takes, and per relayer key and network its
// balance (in ETH), in-flight transactions, nonce lag, replacements, fillers and the gas its
// receipts show was spent. Relayer addresses are a closed set (the configured keys), so they may
// be labels; payers, nonces and hashes never are.
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { formatEther, type TransactionReceipt } from "viem";
import { createExpiringSet } from "../verify/expiring-set.js";

/** Out to half an hour: a stuck transaction waits for replacements, a confirmation for blocks. */
const STAGE_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800];

export function workerMetrics(registry: Registry) {
  const stage = new Histogram({
    name: "x402_settlement_stage_seconds",
    help: "Time from entering the previous state to entering this one (signed, submitted, mined, confirmed)",
    labelNames: ["stage"],
    buckets: STAGE_BUCKETS,
    registers: [registry],
  });
  const total = new Histogram({
    name: "x402_settlement_seconds",
    help: "Time from claim to confirmation",
    buckets: STAGE_BUCKETS,
    registers: [registry],
  });
  const relayer = ["network", "relayer"] as const;
  const balance = new Gauge({
    name: "x402_relayer_balance_eth",
    help: "Native balance, in ETH units",
    labelNames: relayer,
    registers: [registry],
  });
  const inFlight = new Gauge({
    name: "x402_relayer_in_flight",
    help: "Transactions sent and not yet final",
    labelNames: relayer,
    registers: [registry],
  });
  const nonceLag = new Gauge({
    name: "x402_relayer_nonce_lag",
    help: "Our next nonce minus the chain's pending nonce (transactions the node has not seen yet)",
    labelNames: relayer,
    registers: [registry],
  });
  const replacements = new Counter({
    name: "x402_relayer_replacements_total",
    help: "Fee-bumped replacements signed",
    labelNames: relayer,
    registers: [registry],
  });
  const fillers = new Counter({
    name: "x402_relayer_fillers_total",
    help: "Self-transfers sent to fill a nonce gap",
    labelNames: relayer,
    registers: [registry],
  });
  const gasUsed = new Counter({ name: "x402_gas_used_total", help: "Gas used, from receipts", labelNames: relayer, registers: [registry] });
  const gasSpent = new Counter({
    name: "x402_gas_spent_eth_total",
    help: "Gas used × effective price, from receipts, in ETH units",
    labelNames: relayer,
    registers: [registry],
  });
  const svmFees = new Counter({
    name: "x402_svm_fee_lamports_total",
    help: "Lamports our Solana fee payers paid, from the settlements they confirmed (base fee and priority fee)",
    labelNames: ["network", "fee_payer"],
    registers: [registry],
  });
  const webhooks = new Counter({
    name: "x402_webhook_deliveries_total",
    help: "Webhook delivery attempts by outcome (delivered, retry, gave_up, disabled)",
    labelNames: ["result"],
    registers: [registry],
  });
  // A batch's receipt answers for every settlement in it: it is counted once.
  const counted = createExpiringSet(3_600_000, 100_000);
  const lower = (a: string) => a.toLowerCase();

  return {
    /** A settlement moved from `from` (entered at `since`) to `to` now; `claimedAt` is its claim. */
    moved(to: string, since: Date, now: Date, claimedAt: Date) {
      if (!["signed", "submitted", "mined", "confirmed"].includes(to)) return;
      stage.observe({ stage: to }, Math.max(0, (now.getTime() - since.getTime()) / 1000));
      if (to === "confirmed") total.observe(Math.max(0, (now.getTime() - claimedAt.getTime()) / 1000));
    },
    lane(network: string, address: string, o: { balanceWei?: bigint; inFlight: number; nonceLag?: bigint }) {
      const labels = { network, relayer: lower(address) };
      if (o.balanceWei !== undefined) balance.set(labels, Number(formatEther(o.balanceWei)));
      inFlight.set(labels, o.inFlight);
      if (o.nonceLag !== undefined) nonceLag.set(labels, Number(o.nonceLag));
    },
    webhook: (result: string) => webhooks.inc({ result }),
    svmFee: (network: string, feePayer: string, lamports: bigint) => svmFees.inc({ network, fee_payer: feePayer }, Number(lamports)),
    replaced: (network: string, address: string) => replacements.inc({ network, relayer: lower(address) }),
    filled: (network: string, address: string) => fillers.inc({ network, relayer: lower(address) }),
    receipt(network: string, r: Pick<TransactionReceipt, "transactionHash" | "from" | "gasUsed" | "effectiveGasPrice">) {
      if (counted.has(r.transactionHash)) return;
      counted.remember(r.transactionHash);
      const labels = { network, relayer: lower(r.from) };
      gasUsed.inc(labels, Number(r.gasUsed));
      gasSpent.inc(labels, Number(formatEther(r.gasUsed * r.effectiveGasPrice)));
    },
  };
}

export type WorkerMetrics = ReturnType<typeof workerMetrics>;
