// A lab of its own for each exactly-once case over Permit2 (anvil chain with the Permit2 stack,
// facilitator, database, queue prefix, worker processes), so the relayer audit sees only that
// case's transactions; and the chain and ledger evidence those cases are judged by.
import { parseAbiItem, type Address } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { expect } from "vitest";
import { deployPermit2Stack } from "../../src/devnet/permit2.js";
import { startTestChain } from "./chain.js";
import { startFacilitator } from "./facilitator.js";
import { approvePermit2, permit2NetworksFile, permit2NonceUsed, tokenBalance } from "./permit2-merchant.js";
import { permit2Payment } from "./permit2-payments.js";
import { spawnWorker, tail, type FacilitatorProcess } from "./processes.js";
import { peekJobs } from "./queue-peek.js";
import { auditRelayer, relayerProblems } from "./relayer-audit.js";
import type { FaultPoint } from "./worker-crash.js";

/** What each fresh payer holds. */
export const FUNDED = 1_000_000n;
export const TX_HASH = /^0x[0-9a-f]{64}$/;

const transferEvent = parseAbiItem("event Transfer(address indexed from, address indexed to, uint256 value)");

export interface Payer {
  payer: Address;
  nonce: bigint;
}

export type ExactPayment = Payer & { body: Awaited<ReturnType<typeof permit2Payment>>["body"] };

export type Permit2Row = {
  id: string;
  scheme: string;
  method: string;
  state: string;
  value: string;
  charged_amount: string | null;
  latest_tx: string | null;
  settled_tx: string | null;
  settled_by: string | null;
  error_reason: string | null;
};

export async function openPermit2Lab(opts: { worker: boolean; env?: Record<string, string> }) {
  const chain = await startTestChain();
  // Before the facilitator: placing Permit2 briefly switches the chain id.
  const stack = await deployPermit2Stack(chain.rpcUrl);
  const fac = await startFacilitator(chain, { NETWORKS_FILE: permit2NetworksFile(chain, stack), ...opts.env }, { worker: opts.worker });
  const payTo = privateKeyToAccount(generatePrivateKey()).address;
  const workers: FacilitatorProcess[] = [];
  const token = stack.token.address;

  const lab = {
    chain,
    stack,
    fac,
    payTo,
    balanceOf: (who: Address) => tokenBalance(chain, token, who),
    txCount: (who: Address) => chain.client.getTransactionCount({ address: who }),
    spawn(extra: Record<string, string> = {}): FacilitatorProcess {
      const w = spawnWorker({ ...fac.env, ...extra });
      workers.push(w);
      return w;
    },
    /** A fresh payer holding FUNDED tokens, Permit2 approved. */
    async fundedPayer() {
      const key = generatePrivateKey();
      const account = privateKeyToAccount(key);
      await stack.mint(account.address, FUNDED);
      await approvePermit2(chain, token, key);
      return account;
    },
    /** A fresh funded payer and its signed `exact` payment of `amount` to payTo. */
    async newExact(amount: bigint): Promise<ExactPayment> {
      const account = await lab.fundedPayer();
      const { body, nonce } = await permit2Payment({
        from: account.address,
        sign: (t) => account.signTypedData(t),
        token: stack.token,
        amount,
        payTo,
        chainId: chain.chainId,
        resourceUrl: "http://localhost/paid",
      });
      return { payer: account.address, nonce, body };
    },
    async rowOf(p: Payer): Promise<Permit2Row | undefined> {
      const [row] = await fac.sql<Permit2Row[]>`
        select id, scheme, method, state, value::text, charged_amount::text, latest_tx, settled_tx, settled_by, error_reason
        from settlements
        where chain_id = ${chain.chainId} and payer = ${p.payer.toLowerCase()}
          and nonce = ${`0x${p.nonce.toString(16).padStart(64, "0")}`}`;
      return row;
    },
    async rowsOfPayer(payer: Address): Promise<number> {
      const [r] = await fac.sql<{ n: number }[]>`select count(*)::int as n from settlements where payer = ${payer.toLowerCase()}`;
      return r!.n;
    },
    async storedTxsOf(id: string): Promise<number> {
      const [r] = await fac.sql<{ n: number }[]>`select count(*)::int as n from settlement_txs where settlement_id = ${id}`;
      return r!.n;
    },
    /** Every movement of the token out of `payer`: more than one per authorization would be a second charge. */
    async transfersFrom(payer: Address): Promise<{ tx: string; to: string; value: bigint }[]> {
      const logs = await chain.client.getLogs({
        address: token,
        event: transferEvent,
        args: { from: payer },
        fromBlock: 0n,
        toBlock: "latest",
      });
      return logs.map((l) => ({ tx: l.transactionHash!, to: l.args.to!.toLowerCase(), value: l.args.value! }));
    },
    /** Polls the ledger until every row is in `state`; on timeout, fails with the states, the queue and the worker's log. */
    async waitState(payments: Payer[], state: string, timeoutMs: number, worker?: FacilitatorProcess): Promise<Permit2Row[]> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const rows = await Promise.all(payments.map(lab.rowOf));
        if (rows.every((r) => r?.state === state)) return rows as Permit2Row[];
        if (Date.now() > deadline) {
          const ids = rows.map((r) => r?.id ?? "?");
          throw new Error(
            `not ${state} within ${timeoutMs / 1000} s: ${JSON.stringify(rows.map((r) => [r?.state, r?.error_reason]))}\n` +
              `BullMQ:\n${await peekJobs(fac.env.REDIS_URL!, fac.env.QUEUE_PREFIX!, ids)}` +
              (worker ? `\nworker's log:\n${tail(worker.output())}` : ""),
          );
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    /**
     * What a worker killed at `point` left of the payment: a queued claim and nothing sent, or
     * (write-ahead) the signed transaction on record before it can reach the chain, and on chain
     * only once it was broadcast. `pending` is the answer /settle gave before the crash.
     */
    async expectCrashLeft(p: Payer, crashed: Permit2Row, pending: { json: any }, point: FaultPoint) {
      if (point === "before_sign") {
        expect(crashed.state).toBe("queued");
        expect(crashed.latest_tx).toBeNull();
        expect(await lab.storedTxsOf(crashed.id)).toBe(0);
        expect(pending.json.transaction).toBe("");
        expect(await lab.transfersFrom(p.payer)).toEqual([]);
      } else {
        expect(crashed.state).toBe("signed");
        expect(crashed.latest_tx).toMatch(TX_HASH);
        expect(await lab.storedTxsOf(crashed.id)).toBe(1);
        expect(pending.json.transaction).toBe(crashed.latest_tx);
        expect((await lab.transfersFrom(p.payer)).map((t) => t.tx)).toEqual(point === "after_broadcast" ? [crashed.latest_tx] : []);
      }
      expect(await permit2NonceUsed(chain, p.payer, p.nonce)).toBe(point === "after_broadcast");
    },
    /** Every nonce each relayer used is a transaction we stored first, with no gap and nothing left pending. */
    async expectRelayersClean(relayers: Address[]) {
      for (const r of relayers) expect(relayerProblems(await auditRelayer(chain, fac.sql, r)), r).toEqual([]);
    },
    async close() {
      await Promise.all(workers.map((w) => w.kill()));
      await fac.close();
      await chain.stop();
    },
  };
  return lab;
}

/** `withLab(opts, run)` for a lab opener: runs `run` in a lab of its own, closed whatever happens. */
export function labRunner<O, L extends { close(): Promise<void> }>(open: (opts: O) => Promise<L>) {
  return async (opts: O, run: (lab: L) => Promise<void>) => {
    const lab = await open(opts);
    try {
      await run(lab);
    } finally {
      await lab.close();
    }
  };
}
