// Many settlements at once on a chain mining one block a second: every one confirms, the
// relayer nonces stay contiguous, and no transaction is ever replaced or filled because of a
// nonce mistake. Once with one key, once with two worker processes sharing two keys.
import { generatePrivateKey, privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ANVIL_KEYS } from "../src/devnet/anvil.js";
import { startTestChain, type TestChain } from "./support/chain.js";
import { startFacilitator, type TestFacilitator } from "./support/facilitator.js";
import { signAuthorization, v2Body } from "./support/payments.js";
import { spawnWorker } from "./support/processes.js";

const COUNT = 500;
const PRICE = 1_000n;
const payTo = privateKeyToAccount(ANVIL_KEYS[3]).address;
let chain: TestChain;
let buyers: PrivateKeyAccount[];

beforeAll(async () => {
  chain = await startTestChain();
  buyers = Array.from({ length: 10 }, () => privateKeyToAccount(generatePrivateKey()));
  for (const b of buyers) await chain.fund(b.address, "100");
  await chain.test.setAutomine(false);
  await chain.test.setIntervalMining({ interval: 1 });
}, 120_000);
afterAll(async () => chain?.stop());

async function bodies(n: number) {
  return Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const signed = await signAuthorization({
        payer: buyers[i % buyers.length]!,
        payTo,
        value: PRICE,
        asset: chain.usdc.address,
        chainId: chain.chainId,
      });
      return v2Body({ ...signed, asset: chain.usdc.address, payTo, amount: PRICE, network: "eip155:84532" });
    }),
  );
}

async function settleAll(fac: TestFacilitator, n: number) {
  const all = await bodies(n);
  const merchantBefore = await chain.balanceOf(payTo);
  const answers = await Promise.all(all.map((b) => fac.settle(b)));
  // Answers still pending at SETTLE_WAIT_MS are retried once, as the official middleware does.
  const final = await Promise.all(answers.map((a, i) => (a.json.errorReason === "settlement_pending" ? fac.settle(all[i]) : a)));
  return { final, merchantBefore };
}

async function assertContiguous(fac: TestFacilitator, relayers: string[]) {
  for (const address of relayers) {
    const lane = (
      await fac.sql<{ next_nonce: string }[]>`select next_nonce from relayer_nonces where address = ${address.toLowerCase()}`
    )[0]!;
    const used = await fac.sql<
      { relayer_nonce: string; n: number }[]
    >`select relayer_nonce, count(*)::int as n from settlement_txs where relayer_address = ${address.toLowerCase()} group by relayer_nonce order by relayer_nonce`;
    const onChain = BigInt(await chain.client.getTransactionCount({ address: address as `0x${string}`, blockTag: "latest" }));
    expect(onChain).toBe(BigInt(lane.next_nonce));
    const nonces = used.map((u) => BigInt(u.relayer_nonce));
    if (nonces.length) expect(nonces).toEqual(nonces.map((_, i) => nonces[0]! + BigInt(i)));
    // One transaction per nonce: nothing had to be replaced or filled.
    expect(used.filter((u) => u.n !== 1)).toEqual([]);
  }
}

describe("load on 1-second blocks", () => {
  it(`${COUNT} distinct authorizations, one key: all confirmed, nonces contiguous`, async () => {
    const fac = await startFacilitator(chain, { SETTLE_WAIT_MS: "30000" });
    try {
      const { final, merchantBefore } = await settleAll(fac, COUNT);
      expect(final.filter((a) => a.json.success !== true).map((a) => a.json)).toEqual([]);
      expect(new Set(final.map((a) => a.json.transaction)).size).toBe(COUNT);
      expect(await chain.balanceOf(payTo)).toBe(merchantBefore + PRICE * BigInt(COUNT));
      await assertContiguous(fac, [privateKeyToAccount(ANVIL_KEYS[0]).address]);
      const kinds = (await fac.sql<{ kinds: string[] }[]>`select array_agg(distinct kind) as kinds from settlement_txs`)[0]!.kinds;
      expect(kinds).toEqual(["transfer"]);
    } finally {
      await fac.close();
    }
  }, 180_000);

  it(`${COUNT} authorizations, two worker processes sharing two keys: all confirmed, each key's nonces contiguous`, async () => {
    const keys = `${ANVIL_KEYS[0]},${ANVIL_KEYS[1]}`;
    const fac = await startFacilitator(chain, { SETTLE_WAIT_MS: "30000", RELAYER_PRIVATE_KEY: keys }, { worker: false });
    const workers = [spawnWorker(fac.env), spawnWorker(fac.env)];
    try {
      await Promise.all(workers.map((w) => w.ready(60_000)));
      // Wait until the two workers hold one lane each (leases are shared out on each refresh).
      for (let i = 0; i < 300; i++) {
        const owners = await fac.sql<
          { n: number }[]
        >`select count(distinct lease_owner)::int as n from relayer_nonces where lease_expires_at > now()`;
        if (owners[0]!.n === 2) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const owners = await fac.sql<{ lease_owner: string }[]>`select lease_owner from relayer_nonces`;
      expect(new Set(owners.map((o) => o.lease_owner)).size).toBe(2);

      const { final, merchantBefore } = await settleAll(fac, COUNT);
      expect(final.filter((a) => a.json.success !== true).map((a) => a.json)).toEqual([]);
      expect(await chain.balanceOf(payTo)).toBe(merchantBefore + PRICE * BigInt(COUNT));
      const relayers = [ANVIL_KEYS[0], ANVIL_KEYS[1]].map((k) => privateKeyToAccount(k).address);
      const perKey = await fac.sql<
        { relayer_address: string; n: number }[]
      >`select relayer_address, count(*)::int as n from settlements where state in ('mined','confirmed') group by relayer_address`;
      expect(perKey).toHaveLength(2);
      await assertContiguous(fac, relayers);
    } finally {
      await Promise.all(workers.map((w) => w.kill()));
      await fac.close();
    }
  }, 240_000);
});
