// Readiness of a cluster's fee payers: each one's SOL against the floor. Not ready only when
// none can pay (the others keep settling while one is topped up), but each low one is named.
import { address } from "@solana/kit";
import type { EnabledSvmNetwork } from "../config/solana-networks.js";
import type { SvmRpc } from "./rpc.js";

export async function feePayerFunds(rpc: SvmRpc, net: EnabledSvmNetwork, feePayers: readonly string[]): Promise<Record<string, unknown>> {
  if (!feePayers.length) throw new Error("no fee payer registered yet (is the worker running with SOLANA_FEE_PAYER_KEY?)");
  const balances = await Promise.all(
    feePayers.map(async (a) => ({ address: a, lamports: (await rpc.getBalance(address(a), { commitment: "confirmed" }).send()).value })),
  );
  const low = balances
    .filter((b) => b.lamports < net.minFeePayerBalance)
    .map((b) => ({ address: b.address, lamports: b.lamports.toString() }));
  if (low.length === balances.length)
    throw new Error(
      `every fee payer is below ${net.minFeePayerBalance} lamports: ${low.map((l) => `${l.address}=${l.lamports}`).join(", ")}`,
    );
  return { funded: balances.length - low.length, low };
}
