// A buyer paying for an x402-protected URL with the official @x402/fetch client, by the `exact`
// scheme or, for a route sold by use (examples/metered-server.ts), by `upto`.
// Usage: BUYER_PRIVATE_KEY=0x… npx tsx examples/pay.ts http://127.0.0.1:4022/weather
// For a route priced in a token the client does not know (e.g. the devnet's Permit2 route), name
// it: PAY_ASSET=0x… (and RPC_URL=…, so the client can read its Permit2 allowance and, when the
// route offers gas sponsoring, sign an EIP-2612 permit instead of asking for an approval).
// On Solana: SOLANA_BUYER_KEY=<base58 secret key> SOLANA_RPC_URL=… (the devnet prints both); the
// EVM key is then optional.
import { decodePaymentResponseHeader, wrapFetchWithPayment, x402Client } from "@x402/fetch";
import { ExactEvmScheme } from "@x402/evm/exact/client";
import { UptoEvmScheme } from "@x402/evm/upto/client";
import { privateKeyToAccount } from "viem/accounts";
import { ExactSvmScheme } from "@x402/svm/exact/client";
import { createKeyPairSignerFromBytes, getBase58Encoder } from "@solana/kit";

const url = process.argv[2] ?? "http://127.0.0.1:4022/weather";
const key = process.env.BUYER_PRIVATE_KEY as `0x${string}` | undefined;
const solanaKey = process.env.SOLANA_BUYER_KEY;
if (!key && !solanaKey) {
  console.error("set BUYER_PRIVATE_KEY or SOLANA_BUYER_KEY (npm run devnet prints both)");
  process.exit(2);
}
const network = (process.env.PAY_NETWORK ?? "eip155:84532") as `${string}:${string}`;
const asset = process.env.PAY_ASSET;
const rpc = process.env.RPC_URL ? { rpcUrl: process.env.RPC_URL } : undefined;
const schemes = [];
if (key) {
  const account = privateKeyToAccount(key);
  schemes.push({ network, client: new ExactEvmScheme(account, rpc) }, { network, client: new UptoEvmScheme(account, rpc) });
}
if (solanaKey) {
  const signer = await createKeyPairSignerFromBytes(getBase58Encoder().encode(solanaKey));
  const solanaRpc = process.env.SOLANA_RPC_URL ? { rpcUrl: process.env.SOLANA_RPC_URL } : undefined;
  schemes.push({ network: "solana:*" as const, client: new ExactSvmScheme(signer, solanaRpc) });
}
const client = x402Client.fromConfig({
  schemes,
  ...(asset ? { spendControls: { allowedAssets: [{ network, asset }] } } : {}),
});
const pay = wrapFetchWithPayment(fetch, client);
const res = await pay(url);
console.log(`HTTP ${res.status}`);
console.log(await res.text());
const receipt = res.headers.get("PAYMENT-RESPONSE");
if (receipt) console.log("payment:", decodePaymentResponseHeader(receipt));
process.exit(res.ok ? 0 : 1);
