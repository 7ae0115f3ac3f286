// Address screening, off unless configured: a list file (one address per line, or a JSON array;
// reloaded when it changes, the previous list kept if the new one cannot be read) and/or an HTTP
// preflight to the operator's own service, which fails closed: no clear answer in time is a
// refusal. Payer and payTo are both screened. The preflight's answer is never passed on.
import { readFileSync, unwatchFile, watchFile } from "node:fs";
import type { Logger } from "pino";

export const ScreeningReason = {
  payer: "screening_payer_refused",
  payTo: "screening_payto_refused",
  unavailable: "screening_unavailable",
} as const;

export type ScreeningVerdict = { party: "payer" | "payTo" } | "unavailable" | undefined;

export interface Screening {
  check(o: { payer: string; payTo: string; network: string }): Promise<ScreeningVerdict>;
  close(): void;
}

const ADDRESS = /0x[0-9a-fA-F]{40}/g;

export function readList(path: string): Set<string> {
  const text = readFileSync(path, "utf8");
  // Lines, a JSON array, or a CSV export all work: every address in the file is on the list.
  return new Set([...text.matchAll(ADDRESS)].map((m) => m[0].toLowerCase()));
}

export function createScreening(o: { file?: string; url?: string; timeoutMs: number; logger: Logger }): Screening | undefined {
  if (!o.file && !o.url) return undefined;
  let listed = o.file ? readList(o.file) : new Set<string>();
  if (o.file) {
    const path = o.file;
    o.logger.info({ addresses: listed.size }, "screening list loaded");
    watchFile(path, { interval: 500 }, (now, before) => {
      if (now.mtimeMs === before.mtimeMs && now.size === before.size) return;
      try {
        listed = readList(path);
        o.logger.info({ addresses: listed.size }, "screening list reloaded");
      } catch (err) {
        o.logger.error({ err }, "screening list unreadable: the previous one stays in force");
      }
    });
  }

  async function preflight(body: { payer: string; payTo: string; network: string }): Promise<ScreeningVerdict> {
    try {
      const res = await fetch(o.url!, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(o.timeoutMs),
        redirect: "error",
      });
      const answer = (await res.json().catch(() => undefined)) as { allow?: unknown; hit?: unknown } | undefined;
      if (res.ok && answer?.allow === true) return undefined;
      if (res.ok && answer?.allow === false) return { party: answer.hit === "payTo" ? "payTo" : "payer" };
      o.logger.warn({ status: res.status }, "screening service gave no clear answer: refused");
      return "unavailable";
    } catch (err) {
      o.logger.warn({ err: (err as Error).message }, "screening service unreachable: refused");
      return "unavailable";
    }
  }

  return {
    async check(p) {
      if (listed.has(p.payer.toLowerCase())) return { party: "payer" };
      if (listed.has(p.payTo.toLowerCase())) return { party: "payTo" };
      return o.url ? preflight({ payer: p.payer.toLowerCase(), payTo: p.payTo.toLowerCase(), network: p.network }) : undefined;
    },
    close: () => {
      if (o.file) unwatchFile(o.file);
    },
  };
}
