// A buyer paying for an x402-protected URL with the official @x402/fetch client.
// Usage: BUYER_PRIVATE_KEY=0x… npx tsx examples/pay.ts http://127.0.0.1:4022/weather
import { decodePaymentResponseHeader, wrapFetchWithPayment, x402Client } from "@x402/fetch";
import { registerExactEvmScheme } from "@x402/evm/exact/client";
import { privateKeyToAccount } from "viem/accounts";

const url = process.argv[2] ?? "http://127.0.0.1:4022/weather";
const key = process.env.BUYER_PRIVATE_KEY as `0x${string}` | undefined;
if (!key) {
  console.error("set BUYER_PRIVATE_KEY (npm run devnet prints one)");
  process.exit(2);
}
const client = registerExactEvmScheme(new x402Client(), { signer: privateKeyToAccount(key) });
const pay = wrapFetchWithPayment(fetch, client);
const res = await pay(url);
console.log(`HTTP ${res.status}`);
console.log(await res.text());
const receipt = res.headers.get("PAYMENT-RESPONSE");
if (receipt) console.log("payment:", decodePaymentResponseHeader(receipt));
process.exit(res.ok ? 0 : 1);
