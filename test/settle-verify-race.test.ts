// A /settle that passes the ledger lookup just before another request for the same authorization
// claims it, and whose verify simulation then runs after that request's transaction is mined:
// the chain refuses the spent authorization, but the answer must still come from the ledger row.
// The api's RPC is gated so each step of that window happens in a fixed order; the worker talks
// to anvil directly and is never held.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { parseAbiItem, type Address } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ANVIL_KEYS } from "../src/devnet/anvil.js";
import { deployPermit2Stack, type Permit2Stack } from "../src/devnet/permit2.js";
import { usesOf } from "./support/chain-facts.js";
import { startTestChain, type TestChain } from "./support/chain.js";
import { startFacilitator, type TestFacilitator } from "./support/facilitator.js";
import { fundedPayment } from "./support/payments.js";
import { approvePermit2, permit2NetworksFile } from "./support/permit2-merchant.js";
import { uptoPayment } from "./support/upto-payments.js";

const NETWORK = "eip155:84532";
const TX_HASH = /^0x[0-9a-f]{64}$/;
const relayer = privateKeyToAccount(ANVIL_KEYS[0]).address;
const payTo = privateKeyToAccount(ANVIL_KEYS[3]).address;
const transferEvent = parseAbiItem("event Transfer(address indexed from, address indexed to, uint256 value)");

interface HeldCall {
  release(): void;
}

/**
 * JSON-RPC in front of anvil that holds the next `armed` requests carrying an eth_call (a verify's
 * simulation round) until the test releases them. Everything else passes straight through.
 */
async function startGatedRpc(target: string) {
  const held: HeldCall[] = [];
  const waiters: ((h: HeldCall) => void)[] = [];
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    let methods: string[] = [];
    try {
      const sent = JSON.parse(body.toString("utf8")) as { method: string } | { method: string }[];
      methods = (Array.isArray(sent) ? sent : [sent]).map((c) => c.method);
    } catch {
      // forwarded as it is, for the node to refuse
    }
    if (gate.armed > 0 && methods.includes("eth_call")) {
      gate.armed--;
      await new Promise<void>((release) => {
        const waiter = waiters.shift();
        if (waiter) waiter({ release });
        else held.push({ release });
      });
    }
    try {
      const upstream = await fetch(target, { method: "POST", headers: { "content-type": "application/json" }, body });
      res.writeHead(upstream.status, { "content-type": "application/json" }).end(await upstream.text());
    } catch {
      req.socket.destroy();
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const gate = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    armed: 0,
    /** The next held request, once it has arrived. */
    nextHeld: (): Promise<HeldCall> => new Promise((r) => (held.length ? r(held.shift()!) : waiters.push(r))),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
  return gate;
}

type GatedRpc = Awaited<ReturnType<typeof startGatedRpc>>;

let chain: TestChain;
let stack: Permit2Stack;
let rpc: GatedRpc | undefined;
let fac: TestFacilitator | undefined;

beforeAll(async () => {
  chain = await startTestChain();
  // Before any facilitator: placing Permit2 briefly switches the chain id.
  stack = await deployPermit2Stack(chain.rpcUrl);
});

afterEach(async () => {
  await fac?.close();
  await rpc?.close();
  fac = undefined;
  rpc = undefined;
});

afterAll(async () => chain?.stop());

async function openFacilitator() {
  rpc = await startGatedRpc(chain.rpcUrl);
  fac = await startFacilitator(
    chain,
    { NETWORKS_FILE: permit2NetworksFile(chain, stack), RPC_URL_BASE_SEPOLIA: rpc.url },
    { worker: false },
  );
  await fac.startWorker({ RPC_URL_BASE_SEPOLIA: chain.rpcUrl });
  return { rpc, fac };
}

/**
 * Settles `first`, then `second` once `first` is in its verify; `second` is held in its own verify
 * until `first` has claimed the authorization and its transaction is mined.
 */
async function settleInsideTheWindow(first: unknown, second: unknown) {
  const { rpc, fac } = await openFacilitator();
  rpc.armed = 2;
  const firstAnswer = fac.settle(first);
  const firstVerify = await rpc.nextHeld();
  const secondAnswer = fac.settle(second);
  // Held in its verify, so it has already looked the key up and found no row.
  const secondVerify = await rpc.nextHeld();
  firstVerify.release();
  const a = await firstAnswer;
  secondVerify.release();
  const b = await secondAnswer;
  return [a, b] as const;
}

describe("a /settle whose verify runs after another request for the same authorization was mined", () => {
  it("upto with a different charge: duplicate_settlement naming the mined transaction, one transfer", async () => {
    const key = generatePrivateKey();
    const account = privateKeyToAccount(key);
    await stack.mint(account.address, 1_000_000n);
    await approvePermit2(chain, stack.token.address, key);
    const p = await uptoPayment({
      payer: account,
      facilitator: relayer,
      token: stack.token,
      maximum: 10_000n,
      payTo,
      chainId: chain.chainId,
    });

    const [a, b] = await settleInsideTheWindow(p.settleBody(4_000n), p.settleBody(6_000n));

    expect(a.json).toMatchObject({ success: true, payer: account.address, network: NETWORK });
    expect(a.json.transaction).toMatch(TX_HASH);
    expect(b.json).toMatchObject({
      success: false,
      errorReason: "duplicate_settlement",
      payer: account.address,
      transaction: a.json.transaction,
      network: NETWORK,
    });
    const transfers = await chain.client.getLogs({
      address: stack.token.address,
      event: transferEvent,
      args: { from: account.address },
      fromBlock: 0n,
      toBlock: "latest",
    });
    expect(transfers.map((l) => [l.transactionHash, l.args.value])).toEqual([[a.json.transaction, 4_000n]]);
  });

  it("EIP-3009 exact in another envelope: duplicate_settlement naming the mined transaction, one transfer", async () => {
    const p = await fundedPayment(chain, { payTo, value: 25_000n });
    const other = structuredClone(p.body);
    other.paymentPayload.resource.url = "http://localhost/elsewhere";

    const [a, b] = await settleInsideTheWindow(p.body, other);

    expect(a.json).toEqual({ success: true, payer: p.buyer.address, transaction: expect.stringMatching(TX_HASH), network: NETWORK });
    expect(b.json).toMatchObject({
      success: false,
      errorReason: "duplicate_settlement",
      payer: p.buyer.address,
      transaction: a.json.transaction,
      network: NETWORK,
    });
    expect(await usesOf(chain, p.buyer.address as Address, p.authorization.nonce)).toEqual([a.json.transaction]);
  });
});
