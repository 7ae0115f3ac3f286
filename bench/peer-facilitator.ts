// The official facilitator as a control: @x402/core x402Facilitator with @x402/evm's exact
// scheme (v2 on eip155:84532 and every v1 name), served over HTTP like the reference example
// facilitator (examples/typescript/facilitator: 200 for valid and invalid alike, 400 for a
// missing field, 500 on a thrown error). It signs with its own anvil account, never ours.
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import { x402Facilitator } from "@x402/core/facilitator";
import { toFacilitatorEvmSigner } from "@x402/evm";
import { registerExactEvmScheme } from "@x402/evm/exact/facilitator";
import type { Hex } from "viem";
import { devnetClients } from "../src/devnet/contracts.js";

/** The official facilitator signer over viem clients on `rpcUrl`, sending with `key`. */
export async function referenceSigner(rpcUrl: string, key: Hex) {
  const { publicClient, walletClient, account } = await devnetClients(rpcUrl, key);
  return toFacilitatorEvmSigner({
    address: account.address,
    readContract: (args) => publicClient.readContract(args as never),
    verifyTypedData: (args) => publicClient.verifyTypedData(args as never),
    writeContract: (args) => walletClient.writeContract(args as never),
    sendTransaction: (args) => walletClient.sendTransaction(args),
    waitForTransactionReceipt: (args) => publicClient.waitForTransactionReceipt(args),
    getCode: (args) => publicClient.getCode(args),
  });
}

export async function startReferenceFacilitator(rpcUrl: string, key: Hex): Promise<{ url: string; close(): Promise<void> }> {
  const signer = await referenceSigner(rpcUrl, key);
  const facilitator = registerExactEvmScheme(new x402Facilitator(), { signer, networks: "eip155:84532" });

  const app = express();
  app.use(express.json());
  const handle = (op: "verify" | "settle") => async (req: express.Request, res: express.Response) => {
    const { paymentPayload, paymentRequirements } = req.body ?? {};
    if (!paymentPayload || !paymentRequirements)
      return void res.status(400).json({ error: "Missing paymentPayload or paymentRequirements" });
    try {
      res.json(await facilitator[op](paymentPayload, paymentRequirements));
    } catch (err) {
      res.status(500).json({ error: err instanceof Error ? err.message : String(err) });
    }
  };
  app.post("/verify", handle("verify"));
  app.post("/settle", handle("settle"));
  app.get("/supported", (_req, res) => void res.json(facilitator.getSupported()));

  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
}
