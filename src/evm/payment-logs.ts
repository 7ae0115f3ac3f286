// Success is read from logs, never from a receipt's status alone: the token must have emitted
// Transfer(from, payTo, value) and AuthorizationUsed(from, nonce) in the same transaction.
import { parseEventLogs, type Log } from "viem";
import { fiatTokenAbi } from "./fiat-token-abi.js";

export interface ExpectedPayment {
  asset: string;
  from: string;
  to: string;
  value: bigint;
  nonce: string;
}

const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

export function paymentInLogs(logs: readonly Log[], p: ExpectedPayment): boolean {
  const ours = logs.filter((l) => same(l.address, p.asset));
  const events = parseEventLogs({ abi: fiatTokenAbi, logs: ours, strict: true });
  const transferred = events.some(
    (e) => e.eventName === "Transfer" && same(e.args.from, p.from) && same(e.args.to, p.to) && e.args.value === p.value,
  );
  const used = events.some((e) => e.eventName === "AuthorizationUsed" && same(e.args.authorizer, p.from) && same(e.args.nonce, p.nonce));
  return transferred && used;
}

export const authorizationEvents = {
  used: fiatTokenAbi.find((x) => x.type === "event" && x.name === "AuthorizationUsed")!,
  canceled: fiatTokenAbi.find((x) => x.type === "event" && x.name === "AuthorizationCanceled")!,
} as const;
