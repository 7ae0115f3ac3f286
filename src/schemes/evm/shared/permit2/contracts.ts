// Permit2 at its canonical address (the same on every chain where it is deployed), and the parts
// of its ABI and the token's that every Permit2 scheme reads.
import { parseAbi } from "viem";

export const PERMIT2 = "0x000000000022D473030F116dDEE9F6B43aC78BA3" as const;

export const permit2Abi = parseAbi([
  "function nonceBitmap(address owner, uint256 wordPos) view returns (uint256)",
  "event UnorderedNonceInvalidation(address indexed owner, uint256 word, uint256 mask)",
]);

export const erc20Abi = parseAbi([
  "function balanceOf(address owner) view returns (uint256)",
  "function allowance(address owner, address spender) view returns (uint256)",
  "event Transfer(address indexed from, address indexed to, uint256 value)",
]);

/** Both x402 proxies answer PERMIT2(): a proxy that does not is not deployed. */
export const proxyProbeAbi = parseAbi(["function PERMIT2() view returns (address)"]);

/** The parts of a PermitWitnessTransferFrom every scheme shares; each adds its own Witness type. */
export const permitTypes = {
  PermitWitnessTransferFrom: [
    { name: "permitted", type: "TokenPermissions" },
    { name: "spender", type: "address" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
    { name: "witness", type: "Witness" },
  ],
  TokenPermissions: [
    { name: "token", type: "address" },
    { name: "amount", type: "uint256" },
  ],
} as const;
