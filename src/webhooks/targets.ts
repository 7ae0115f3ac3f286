// Where webhooks may go. An operator-given URL is an SSRF surface: unless private targets are
// allowed (WEBHOOK_ALLOW_PRIVATE_URLS=1), loopback, private, link-local and other special-use
// addresses are refused, both when the endpoint is created and when each delivery connects (the
// address checked is the one connected to, so a DNS answer that changes in between cannot
// sneak one in).
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { BlockList, isIP } from "node:net";

const special = new BlockList();
for (const [net, bits] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["224.0.0.0", 3],
] as const)
  special.addSubnet(net, bits, "ipv4");
for (const [net, bits] of [
  ["::", 128],
  ["::1", 128],
  ["fc00::", 7],
  ["fe80::", 10],
  ["ff00::", 8],
  ["64:ff9b::", 96],
] as const)
  special.addSubnet(net, bits, "ipv6");

export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return special.check(address, "ipv4");
  if (family !== 6) return true;
  // An IPv4 address written as IPv6 is judged as IPv4.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? special.check(mapped[1]!, "ipv4") : special.check(address, "ipv6");
}

/** Why a URL cannot be a webhook target (shape only; addresses are checked at connect), or undefined. */
export function urlProblem(raw: string): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "is not a URL";
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return "must be http(s)";
  if (url.username || url.password) return "must not carry credentials";
  if (raw.length > 2048) return "is longer than 2048 characters";
  return undefined;
}

export class PrivateTargetError extends Error {
  constructor(host: string, address: string) {
    super(`${host} resolves to ${address}, a private or special-use address (set WEBHOOK_ALLOW_PRIVATE_URLS=1 to allow)`);
    this.name = "PrivateTargetError";
  }
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** A `lookup` for http.request that refuses private answers unless allowed. */
export function guardedLookup(allowPrivate: boolean) {
  return (hostname: string, options: object, callback: LookupCallback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      const list = addresses as LookupAddress[];
      const bad = allowPrivate ? undefined : list.find((a) => isPrivateAddress(a.address));
      if (bad) return callback(new PrivateTargetError(hostname, bad.address), []);
      if ((options as { all?: boolean }).all) return callback(null, list);
      callback(null, list[0]!.address, list[0]!.family);
    });
  };
}

/** Resolves the URL's host now, for a clear refusal when an endpoint is created. */
export async function targetProblem(raw: string, allowPrivate: boolean): Promise<string | undefined> {
  const shape = urlProblem(raw);
  if (shape || allowPrivate) return shape;
  const host = new URL(raw).hostname.replace(/^\[|\]$/g, "");
  if (isIP(host)) return isPrivateAddress(host) ? `${host} is a private or special-use address` : undefined;
  return new Promise((resolve) =>
    dnsLookup(host, { all: true }, (err, addresses) => {
      if (err) return resolve(`${host} does not resolve`);
      const bad = (addresses as LookupAddress[]).find((a) => isPrivateAddress(a.address));
      resolve(bad ? `${host} resolves to ${bad.address}, a private or special-use address` : undefined);
    }),
  );
}
