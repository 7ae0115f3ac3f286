// Operator view of the ledger (admin key): one settlement with its full history, filtered
// lists with keyset cursors, and lookups by transaction hash or by authorization. Signatures
// are never returned: until validBefore they are spendable.
import type { FastifyInstance, preHandlerAsyncHookHandler } from "fastify";
import { z } from "zod";
import { SETTLEMENT_STATES } from "../../db/schema.js";
import type { SettlementQueries } from "../../db/settlement-queries.js";
import type { SettlementRow } from "../../db/settlements-repo.js";
import type { NetworkLookup } from "../../config/config.js";
import { presentSettlement } from "../../settle/present.js";
import { badRequest, ledgerAddress, lowerAddress, pageLimit } from "../invalid-request.js";

export interface SettlementsRouteDeps {
  queries: SettlementQueries;
  networks: NetworkLookup;
  auth: preHandlerAsyncHookHandler;
}

const isoDate = z.iso.datetime({ offset: true }).transform((s) => new Date(s));

export const listQuery = z.strictObject({
  payer: ledgerAddress.optional(),
  payTo: ledgerAddress.optional(),
  apiKey: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/, "must be an API key id")
    .optional(),
  network: z.string().max(64).optional(),
  status: z.enum(SETTLEMENT_STATES).optional(),
  since: isoDate.optional(),
  until: isoDate.optional(),
  limit: pageLimit.optional(),
  cursor: z.string().max(200).optional(),
});

export const authQuery = z.strictObject({
  network: z.string().max(64),
  payer: lowerAddress,
  nonce: z
    .string()
    .regex(/^0x[0-9a-fA-F]{64}$/, "must be 0x-prefixed 32-byte hex")
    .transform((s) => s.toLowerCase()),
});

const encodeCursor = (row: SettlementRow) => Buffer.from(`${row.createdAt.toISOString()}|${row.id}`).toString("base64url");
function decodeCursor(cursor: string): { createdAt: Date; id: string } | undefined {
  const [at, id] = Buffer.from(cursor, "base64url").toString().split("|");
  const createdAt = new Date(at ?? "");
  if (Number.isNaN(createdAt.getTime()) || !/^[0-9a-f-]{36}$/.test(id ?? "")) return undefined;
  return { createdAt, id: id! };
}

export async function settlementsRoute(app: FastifyInstance, deps: SettlementsRouteDeps): Promise<void> {
  const { queries } = deps;
  const chainIdOf = (network: string) =>
    (deps.networks.byCaip2(network) ?? deps.networks.byV1Name(network))?.chainId ?? deps.networks.svm?.(network)?.ledgerChainId;

  const detailed = async (row: SettlementRow) => {
    const [events, txs] = await queries.history(row.id);
    return {
      ...presentSettlement(row),
      events: events.map((e) => ({
        from: e.fromState,
        to: e.toState,
        version: e.version,
        transaction: e.txHash,
        detail: e.detail,
        at: e.createdAt.toISOString(),
      })),
      transactions: txs.map((t) => ({
        hash: t.hash,
        relayer: t.relayerAddress,
        relayerNonce: t.relayerNonce.toString(),
        maxFeePerGas: t.maxFeePerGas,
        maxPriorityFeePerGas: t.maxPriorityFeePerGas,
        gasLimit: t.gasLimit,
        at: t.createdAt.toISOString(),
      })),
    };
  };

  app.get("/settlements", { preHandler: deps.auth }, async (req, reply) => {
    const parsed = listQuery.safeParse(req.query);
    if (!parsed.success) return badRequest(reply, parsed.error);
    const q = parsed.data;
    const chainId = q.network === undefined ? undefined : chainIdOf(q.network);
    if (q.network !== undefined && chainId === undefined)
      return reply.code(400).send({ error: "invalid_request", field: "network", message: `network: ${q.network} is not enabled here` });
    const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor);
    if (q.cursor !== undefined && !after)
      return reply.code(400).send({ error: "invalid_request", field: "cursor", message: "cursor: not a cursor from this API" });
    const limit = q.limit ?? 50;
    const rows = await queries.list({
      payer: q.payer,
      payTo: q.payTo,
      apiKeyId: q.apiKey,
      chainId,
      state: q.status,
      since: q.since,
      until: q.until,
      limit,
      after,
    });
    return { items: rows.map(presentSettlement), nextCursor: rows.length === limit ? encodeCursor(rows.at(-1)!) : null };
  });

  app.get("/settlements/by-authorization", { preHandler: deps.auth }, async (req, reply) => {
    const parsed = authQuery.safeParse(req.query);
    if (!parsed.success) return badRequest(reply, parsed.error);
    const chainId = chainIdOf(parsed.data.network);
    if (chainId === undefined)
      return reply
        .code(400)
        .send({ error: "invalid_request", field: "network", message: `network: ${parsed.data.network} is not enabled here` });
    const rows = await queries.byAuthorization(chainId, parsed.data.payer, parsed.data.nonce);
    return { items: await Promise.all(rows.map(detailed)) };
  });

  app.get<{ Params: { hash: string } }>("/settlements/by-tx/:hash", { preHandler: deps.auth }, async (req, reply) => {
    // An EVM transaction hash, or a Solana transaction's signature (base58, case kept).
    const hash = req.params.hash;
    if (!/^0x[0-9a-fA-F]{64}$/.test(hash) && !/^[1-9A-HJ-NP-Za-km-z]{64,88}$/.test(hash))
      return reply
        .code(400)
        .send({ error: "invalid_request", field: "hash", message: "hash: must be a 32-byte transaction hash or a Solana signature" });
    const id = await queries.byTxHash(hash.startsWith("0x") ? hash.toLowerCase() : hash);
    const row = id && (await queries.byId(id));
    if (!row) return reply.code(404).send({ error: "not_found", message: "no settlement has this transaction" });
    return detailed(row);
  });

  app.get<{ Params: { id: string } }>("/settlements/:id", { preHandler: deps.auth }, async (req, reply) => {
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(req.params.id)) {
      return reply.code(400).send({ error: "invalid_request", field: "id", message: "id: must be a settlement id (uuid)" });
    }
    const row = await queries.byId(req.params.id.toLowerCase());
    if (!row) return reply.code(404).send({ error: "not_found", message: "no such settlement" });
    return detailed(row);
  });
}
