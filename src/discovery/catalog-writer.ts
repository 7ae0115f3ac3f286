// Writes the catalog after the answer has gone: /verify and /settle only hand a request over (a
// push onto a bounded queue), and a timer turns what gathered into entries and one upsert. The
// catalog is best effort by design: a full queue or a database that is down drops entries, and
// the next payment for the same resource records it again.
import type { Logger } from "pino";
import type { FacilitatorRequest } from "../x402/wire.js";
import type { CatalogStore } from "./catalog-store.js";
import { catalogEntryOf, type CatalogEntry } from "./entry.js";

export interface CatalogWriter {
  /** A payment that settled (through `apiKeyId`'s key, when keyed): catalogued later if it declares the bazaar extension. */
  record(req: FacilitatorRequest, apiKeyId?: string): void;
  /** Writes what is queued now (tests, shutdown). */
  flush(): Promise<void>;
  close(): Promise<void>;
}

const hasBazaar = (req: FacilitatorRequest) =>
  req.version === 1
    ? "outputSchema" in req.paymentRequirements
    : typeof (req.paymentPayload as { extensions?: { bazaar?: unknown } }).extensions?.bazaar === "object";

export function createCatalogWriter(
  store: Pick<CatalogStore, "upsertMany">,
  logger: Logger,
  opts: { flushMs?: number; maxQueue?: number; onDropped?: () => void } = {},
): CatalogWriter {
  const flushMs = opts.flushMs ?? 250;
  const maxQueue = opts.maxQueue ?? 10_000;
  let queue: { req: FacilitatorRequest; apiKeyId?: string }[] = [];
  let timer: NodeJS.Timeout | undefined;
  let writing: Promise<void> = Promise.resolve();
  // The same resource is paid for again and again with the same declaration: one entry per
  // distinct request shape is extracted (and its schema validated) once, then reused.
  const seen = new Map<string, CatalogEntry | null>();

  const entryOf = ({ req, apiKeyId }: { req: FacilitatorRequest; apiKeyId?: string }): CatalogEntry | undefined => {
    const { payload: _payload, ...envelope } = req.paymentPayload as Record<string, unknown>;
    const shape = JSON.stringify([envelope, req.paymentRequirements, apiKeyId ?? ""]);
    let entry = seen.get(shape);
    if (entry === undefined) {
      entry = catalogEntryOf(req, apiKeyId) ?? null;
      if (seen.size >= 1_000) seen.delete(seen.keys().next().value!);
      seen.set(shape, entry);
    }
    return entry ?? undefined;
  };

  const write = async () => {
    timer = undefined;
    const taken = queue;
    queue = [];
    // Nothing here may stop later writes: a bad entry or a failed statement only loses this batch.
    try {
      const entries = taken.map(entryOf).filter((e): e is CatalogEntry => !!e);
      await store.upsertMany(entries);
    } catch (err) {
      logger.warn({ err, requests: taken.length }, "catalog write failed");
    }
  };
  const flush = () => (writing = writing.then(write));

  return {
    record(req, apiKeyId) {
      if (!hasBazaar(req)) return;
      if (queue.length >= maxQueue) return opts.onDropped?.();
      queue.push({ req, apiKeyId });
      timer ??= setTimeout(() => void flush(), flushMs);
    },
    flush,
    async close() {
      clearTimeout(timer);
      await flush();
    },
  };
}
