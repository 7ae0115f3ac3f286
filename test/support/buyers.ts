// Buyers built only from the official clients, with real signatures from a viem account:
//  - "x402-fetch@1":            x402-fetch wrapFetchWithPayment(fetch, viem WalletClient)
//  - "@x402/fetch@2":           @x402/fetch wrapFetchWithPaymentFromConfig, ExactEvmScheme on eip155:84532
//  - "@x402/fetch@2 registerExactEvmScheme": @x402/fetch wrapFetchWithPayment with
//                               registerExactEvmScheme (eip155:* plus every v1 name)
//  - "@x402/core x402HTTPClient": the core HTTP client driven by hand (402 -> payload -> retry)
// Each attempt records the payment header the client really sent, so a test can replay it.
import { decodePaymentRequiredHeader, decodePaymentResponseHeader } from "@x402/core/http";
import { x402Client, x402HTTPClient } from "@x402/core/client";
import { ExactEvmScheme, registerExactEvmScheme } from "@x402/evm/exact/client";
import { wrapFetchWithPayment as wrapFetchV2, wrapFetchWithPaymentFromConfig } from "@x402/fetch";
import type { SchemeNetworkClient } from "@x402/core/types";
import { createWalletClient, http, type Address, type Hex, type PrivateKeyAccount } from "viem";
import { baseSepolia } from "viem/chains";
import { decodeXPaymentResponse, wrapFetchWithPayment as wrapFetchV1 } from "x402-fetch";
import { V2_NETWORK } from "./merchant.js";

export type ClientKind = "x402-fetch@1" | "@x402/fetch@2" | "@x402/fetch@2 registerExactEvmScheme" | "@x402/core x402HTTPClient";

export interface Receipt {
  success: boolean;
  transaction: string;
  network: string;
  payer?: string;
  errorReason?: string;
}

export interface Attempt {
  status: number;
  body: unknown;
  /** The payment header the client sent on its paid retry, by name. */
  paymentHeaderName?: "X-PAYMENT" | "PAYMENT-SIGNATURE";
  paymentHeader?: string;
  /** Which receipt header came back, decoded by the official decoder for it. */
  receiptHeaderName?: "X-PAYMENT-RESPONSE" | "PAYMENT-RESPONSE";
  receipt?: Receipt;
  /** The refusal reason: `error` of the v1 402 body or of the v2 PAYMENT-REQUIRED header, else a failed receipt's errorReason. */
  reason?: string;
  /** The decoded payment payload the client signed. */
  payload?: any;
}

const b64json = (s: string) => JSON.parse(Buffer.from(s, "base64").toString("utf8"));

/** Reads status, body, receipt and reason of a resource-server answer. */
export async function readAnswer(res: Response): Promise<Omit<Attempt, "paymentHeader" | "paymentHeaderName" | "payload">> {
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  const out: Omit<Attempt, "paymentHeader" | "paymentHeaderName" | "payload"> = { status: res.status, body };
  const v2Receipt = res.headers.get("PAYMENT-RESPONSE");
  const v1Receipt = res.headers.get("X-PAYMENT-RESPONSE");
  if (v2Receipt) {
    out.receiptHeaderName = "PAYMENT-RESPONSE";
    out.receipt = decodePaymentResponseHeader(v2Receipt) as Receipt;
  } else if (v1Receipt) {
    out.receiptHeaderName = "X-PAYMENT-RESPONSE";
    out.receipt = decodeXPaymentResponse(v1Receipt) as Receipt;
  }
  const required = res.headers.get("PAYMENT-REQUIRED");
  if (required) out.reason = decodePaymentRequiredHeader(required).error;
  else if (body && typeof body === "object" && typeof (body as { error?: unknown }).error === "string")
    out.reason = (body as { error: string }).error;
  // A v2 settle failure is a 402 whose reason travels only in the failed PAYMENT-RESPONSE.
  else if (out.receipt && !out.receipt.success) out.reason = out.receipt.errorReason;
  return out;
}

/** A fetch that remembers the payment headers of every request it sends. */
function capturingFetch() {
  const sent: { name: "X-PAYMENT" | "PAYMENT-SIGNATURE"; value: string }[] = [];
  const f = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const req = new Request(input, init);
    const v2 = req.headers.get("PAYMENT-SIGNATURE");
    const v1 = req.headers.get("X-PAYMENT");
    if (v2) sent.push({ name: "PAYMENT-SIGNATURE", value: v2 });
    else if (v1) sent.push({ name: "X-PAYMENT", value: v1 });
    return fetch(req);
  }) as typeof fetch;
  return { fetch: f, sent };
}

/** Pays for `url` with the given official client; `rpcUrl` only feeds the v1 WalletClient. */
export async function pay(kind: ClientKind, url: string, account: PrivateKeyAccount, rpcUrl: string): Promise<Attempt> {
  const cap = capturingFetch();
  let res: Response;
  switch (kind) {
    case "x402-fetch@1": {
      const wallet = createWalletClient({ account, chain: baseSepolia, transport: http(rpcUrl) });
      res = await wrapFetchV1(cap.fetch, wallet as never)(url);
      break;
    }
    case "@x402/fetch@2": {
      res = await wrapFetchWithPaymentFromConfig(cap.fetch, { schemes: [{ network: V2_NETWORK, client: new ExactEvmScheme(account) }] })(
        url,
      );
      break;
    }
    case "@x402/fetch@2 registerExactEvmScheme": {
      // registerExactEvmScheme registers eip155:* for v2 and every v1 name, so it answers v1 servers.
      res = await wrapFetchV2(cap.fetch, registerExactEvmScheme(new x402Client(), { signer: account }))(url);
      break;
    }
    case "@x402/core x402HTTPClient": {
      const client = new x402HTTPClient(registerExactEvmScheme(new x402Client(), { signer: account }));
      const first = await cap.fetch(url);
      if (first.status !== 402) {
        res = first;
        break;
      }
      const required = await paymentRequiredOf(first, client);
      const payload = await client.createPaymentPayload(required);
      res = await cap.fetch(url, { headers: client.encodePaymentSignatureHeader(payload) });
      break;
    }
  }
  return withSentHeader(await readAnswer(res), cap.sent);
}

/**
 * Pays for `url` with @x402/fetch@2 and one client scheme on eip155:84532, in `asset` only: the
 * client refuses tokens it does not know unless the buyer opts in, as a real buyer would.
 */
export async function payWithClientScheme(url: string, scheme: SchemeNetworkClient, asset: Address): Promise<Attempt> {
  const cap = capturingFetch();
  const client = x402Client.fromConfig({
    schemes: [{ network: V2_NETWORK, client: scheme }],
    spendControls: { allowedAssets: [{ network: V2_NETWORK, asset }] },
  });
  return withSentHeader(await readAnswer(await wrapFetchV2(cap.fetch, client)(url)), cap.sent);
}

/** The answer with the payment header the client sent last, and the payload decoded from it. */
function withSentHeader(answer: Awaited<ReturnType<typeof readAnswer>>, sent: ReturnType<typeof capturingFetch>["sent"]): Attempt {
  const last = sent.at(-1);
  return {
    ...answer,
    ...(last ? { paymentHeaderName: last.name, paymentHeader: last.value, payload: b64json(last.value) } : {}),
  };
}

/** The payment requirements of a 402 (v2 in its header, v1 in its JSON body). */
async function paymentRequiredOf(res: Response, client: x402HTTPClient) {
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return client.getPaymentRequiredResponse((n) => res.headers.get(n), body);
}

/** Sends a captured payment header again with plain fetch, exactly as captured. */
export async function replay(url: string, name: "X-PAYMENT" | "PAYMENT-SIGNATURE", value: string) {
  return readAnswer(await fetch(url, { headers: { [name]: value } }));
}

/** The EIP-3009 nonce inside a decoded payment payload (v1 and v2 carry it at the same place). */
export const nonceOf = (payload: any): Hex => payload.payload.authorization.nonce;

/**
 * Gets the 402 for `url` and signs one payment for it with the official core client (v2, or v1
 * through registerExactEvmScheme's v1 names), without sending it: the header a client would send.
 */
export async function signOnce(
  url: string,
  account: PrivateKeyAccount,
): Promise<{ name: "X-PAYMENT" | "PAYMENT-SIGNATURE"; value: string; payload: any }> {
  const client = new x402HTTPClient(registerExactEvmScheme(new x402Client(), { signer: account }));
  const first = await fetch(url);
  if (first.status !== 402) throw new Error(`expected a 402 from ${url}, got ${first.status}`);
  const payload = await client.createPaymentPayload(await paymentRequiredOf(first, client));
  const [name, value] = Object.entries(client.encodePaymentSignatureHeader(payload))[0]! as ["X-PAYMENT" | "PAYMENT-SIGNATURE", string];
  return { name, value, payload: b64json(value) };
}
