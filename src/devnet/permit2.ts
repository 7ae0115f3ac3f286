// The on-chain side of x402 `exact` (and `upto`) via Permit2 on a devnet: Uniswap's Permit2 and
// stand-ins for the x402 proxies at their canonical addresses, and a permit-only token to pay with.
import { keccak256, parseEther, stringToHex, type Address, type Hash, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { devnetTestClient } from "./contracts.js";
import { ownArtifact } from "./own-contracts.js";
import { ensurePermit2, permit2Artifact } from "./permit2-canonical.js";
import { ensureX402Permit2Proxies } from "./permit2-proxy.js";
import { ensurePermitToken, mintPermitToken, type PermitTokenInfo } from "./permit-token.js";

export {
  PERMIT2_ADDRESS,
  permit2Abi,
  permit2ErrorsAbi,
  permit2DomainSeparator,
  permit2Artifact,
  permit2SourceRoot,
} from "./permit2-canonical.js";
export {
  EXACT_WITNESS_TYPE_STRING,
  UPTO_WITNESS_TYPE_STRING,
  X402_EXACT_PERMIT2_PROXY,
  X402_UPTO_PERMIT2_PROXY,
  exactPermit2WitnessTypes,
  uptoPermit2WitnessTypes,
  x402ExactPermit2ProxyAbi,
  x402UptoPermit2ProxyAbi,
} from "./permit2-proxy.js";
export { eip2612PermitTypes, permitTokenAbi, PERMIT_TOKEN_NAME, PERMIT_TOKEN_SYMBOL, type PermitTokenInfo } from "./permit-token.js";

/**
 * Its own key rather than one of anvil's ten: tests and relayers use those, and extra
 * transactions would move their nonces. Derived from a fixed phrase so the token address is
 * the same on every devnet.
 */
export const PERMIT2_STACK_DEPLOYER_KEY: Hex = keccak256(stringToHex("x402-facilitator devnet permit2 stack deployer"));

export interface Permit2Stack {
  chainId: number;
  permit2: Address;
  exactProxy: Address;
  uptoProxy: Address;
  token: PermitTokenInfo;
  /** Deploys, and owns the token (the only account allowed to mint). */
  deployer: Address;
  mint(to: Address, amount: bigint): Promise<Hash>;
}

const inFlight = new Map<string, Promise<Permit2Stack>>();

async function deploy(rpcUrl: string): Promise<Permit2Stack> {
  const key = PERMIT2_STACK_DEPLOYER_KEY;
  const deployer = privateKeyToAccount(key).address;
  const test = devnetTestClient(rpcUrl);
  const chainId = await test.getChainId();
  if ((await test.getBalance({ address: deployer })) < parseEther("1")) {
    await test.setBalance({ address: deployer, value: parseEther("1000") });
  }
  // Both compiles start together (solc runs on worker threads), so a cold cache costs the longer
  // of the two rather than their sum; warm, this only rereads the sources to check the cache key.
  await Promise.all([permit2Artifact(), ownArtifact("PermitTestToken")]);
  // The token first: its address is the deployer's nonce-0 CREATE address.
  const token = await ensurePermitToken(rpcUrl, key);
  const permit2 = await ensurePermit2(rpcUrl, key);
  const { exactProxy, uptoProxy } = await ensureX402Permit2Proxies(rpcUrl, key);
  return {
    chainId,
    permit2,
    exactProxy,
    uptoProxy,
    token,
    deployer,
    mint: (to, amount) => mintPermitToken(rpcUrl, key, token.address, to, amount),
  };
}

/**
 * Deploys whatever part of the stack is missing on the chain behind `rpcUrl`; a second call
 * finds everything in place and only reads. Run it before other traffic on the chain: placing
 * Permit2 briefly switches anvil's chain id (see ensurePermit2).
 */
export function deployPermit2Stack(rpcUrl: string): Promise<Permit2Stack> {
  let pending = inFlight.get(rpcUrl);
  if (!pending) {
    pending = deploy(rpcUrl).finally(() => inFlight.delete(rpcUrl));
    inFlight.set(rpcUrl, pending);
  }
  return pending;
}
