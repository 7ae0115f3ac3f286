// The peer in `npm run bench`: the official @x402/core + @x402/evm facilitator logic behind a
// minimal HTTP server, in a process of its own like ours. Prints its URL on the first line.
import type { Hex } from "viem";
import { startReferenceFacilitator } from "./peer-facilitator.js";

const peer = await startReferenceFacilitator(process.env.RPC_URL!, process.env.PEER_KEY as Hex);
console.log(peer.url);
process.on("SIGTERM", () => void peer.close().then(() => process.exit(0)));
