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

// A batch's receipt is read once for each settlement it carries: its logs are decoded once.
const decodedLogs = new WeakMap<readonly Log[], Map<string, ReturnType<typeof decode>>>();
const decode = (logs: readonly Log[], asset: string) =>
  parseEventLogs({ abi: fiatTokenAbi, logs: logs.filter((l) => same(l.address, asset)), strict: true });

function tokenEvents(logs: readonly Log[], asset: string) {
  let byAsset = decodedLogs.get(logs);
  if (!byAsset) decodedLogs.set(logs, (byAsset = new Map()));
  const key = asset.toLowerCase();
  let events = byAsset.get(key);
  if (!events) byAsset.set(key, (events = decode(logs, asset)));
  return events;
}

export function paymentInLogs(logs: readonly Log[], p: ExpectedPayment): boolean {
  const events = tokenEvents(logs, p.asset);
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
