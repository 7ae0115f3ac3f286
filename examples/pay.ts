// A buyer paying for an x402-protected URL with the official @x402/fetch client, by the `exact`
// scheme or, for a route sold by use (examples/metered-server.ts), by `upto`.
// Usage: BUYER_PRIVATE_KEY=0x… npx tsx examples/pay.ts http://127.0.0.1:4022/weather
// For a route priced in a token the client does not know (e.g. the devnet's Permit2 route), name
// it: PAY_ASSET=0x… (and RPC_URL=…, so the client can read its Permit2 allowance and, when the
// route offers gas sponsoring, sign an EIP-2612 permit instead of asking for an approval).
import { decodePaymentResponseHeader, wrapFetchWithPayment, x402Client } from "@x402/fetch";
import { ExactEvmScheme } from "@x402/evm/exact/client";
import { UptoEvmScheme } from "@x402/evm/upto/client";
import { privateKeyToAccount } from "viem/accounts";

const url = process.argv[2] ?? "http://127.0.0.1:4022/weather";
const key = process.env.BUYER_PRIVATE_KEY as `0x${string}` | undefined;
if (!key) {
  console.error("set BUYER_PRIVATE_KEY (npm run devnet prints one)");
  process.exit(2);
}
const network = (process.env.PAY_NETWORK ?? "eip155:84532") as `${string}:${string}`;
const asset = process.env.PAY_ASSET;
const account = privateKeyToAccount(key);
const rpc = process.env.RPC_URL ? { rpcUrl: process.env.RPC_URL } : undefined;
const client = x402Client.fromConfig({
  schemes: [
    { network, client: new ExactEvmScheme(account, rpc) },
    { network, client: new UptoEvmScheme(account, rpc) },
  ],
  ...(asset ? { spendControls: { allowedAssets: [{ network, asset }] } } : {}),
});
const pay = wrapFetchWithPayment(fetch, client);
const res = await pay(url);
console.log(`HTTP ${res.status}`);
console.log(await res.text());
const receipt = res.headers.get("PAYMENT-RESPONSE");
if (receipt) console.log("payment:", decodePaymentResponseHeader(receipt));
process.exit(res.ok ? 0 : 1);
