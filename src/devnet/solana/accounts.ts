// Accounts of the SIMULATED Solana cluster (LiteSVM, not a validator): reads as the RPC needs
// them, and the fixtures tests and the devnet set up with (mints, funded token accounts, SOL),
// written straight into LiteSVM without a transaction.
import { randomBytes } from "node:crypto";
import type { LiteSVM } from "litesvm";
import { address as toAddress, getAddressDecoder, lamports as toLamports, type Address } from "@solana/kit";
import {
  AccountState,
  findAssociatedTokenPda,
  getMintEncoder,
  getTokenEncoder,
  TOKEN_PROGRAM_ADDRESS,
  type Mint,
  type MintArgs,
  type Token,
} from "@solana-program/token";
import type { TokenProgramName } from "./cluster-types.js";
import { decodeMintData, decodeTokenAccountData, TOKEN_2022_PROGRAM_ADDRESS, tokenProgramAddress } from "./token-accounts.js";

const addressDecoder = getAddressDecoder();

export type ClusterAccounts = ReturnType<typeof createClusterAccounts>;

export function createClusterAccounts(svm: LiteSVM) {
  function account(addr: Address) {
    const a = svm.getAccount(addr);
    return a.exists ? a : null;
  }

  function solBalance(addr: Address): bigint {
    return account(addr)?.lamports ?? 0n;
  }

  /** Writes an account that holds rent-exempt lamports for its data. */
  function setRentExempt(addr: Address, programId: Address, data: Uint8Array) {
    svm.setAccount({
      address: addr,
      lamports: toLamports(svm.minimumBalanceForRentExemption(BigInt(data.length))),
      programAddress: programId,
      executable: false,
      data,
      space: BigInt(data.length),
    });
  }

  /** Credits lamports directly (a faucet, without the rent rules an airdrop transfer is subject to). */
  function airdrop(addr: Address, amount: bigint) {
    const a = account(addr);
    svm.setAccount({
      address: addr,
      lamports: toLamports((a?.lamports ?? 0n) + amount),
      programAddress: a?.programAddress ?? toAddress("11111111111111111111111111111111"),
      executable: a?.executable ?? false,
      data: a?.data ?? new Uint8Array(),
      space: a?.space ?? 0n,
    });
  }

  function readMint(addr: Address): { mint: Mint; programId: Address } | null {
    const a = account(addr);
    const mint = a && decodeMintData(a.programAddress, a.data);
    return mint ? { mint, programId: a.programAddress } : null;
  }

  function readTokenAccount(addr: Address): { token: Token; programId: Address; decimals: number } | null {
    const a = account(addr);
    const token = a && decodeTokenAccountData(a.programAddress, a.data);
    return token ? { token, programId: a.programAddress, decimals: readMint(token.mint)?.mint.decimals ?? 0 } : null;
  }

  function writeMint(addr: Address, programId: Address, mint: MintArgs) {
    setRentExempt(addr, programId, new Uint8Array(getMintEncoder().encode(mint)));
  }

  /** Writes an initialized Mint (no transaction); `address` places it at a fixed address such as a USDC mint. */
  async function createMint(o: {
    address?: Address;
    decimals: number;
    tokenProgram?: TokenProgramName;
    mintAuthority?: Address | null;
    freezeAuthority?: Address | null;
  }) {
    const addr = o.address ?? addressDecoder.decode(randomBytes(32));
    writeMint(addr, tokenProgramAddress(o.tokenProgram ?? "token"), {
      mintAuthority: o.mintAuthority ?? null,
      supply: 0n,
      decimals: o.decimals,
      isInitialized: true,
      freezeAuthority: o.freezeAuthority ?? null,
    });
    return addr;
  }

  async function ataOf(mint: Address, owner: Address, tokenProgram?: TokenProgramName): Promise<Address> {
    const program = tokenProgram ? tokenProgramAddress(tokenProgram) : (account(mint)?.programAddress ?? TOKEN_PROGRAM_ADDRESS);
    const [ata] = await findAssociatedTokenPda({ mint, owner, tokenProgram: program });
    return ata;
  }

  /** Sets the owner's associated token account to `amount` (creating it), keeping the mint's supply the sum of balances. */
  async function fundToken(o: { mint: Address; owner: Address; amount: bigint; tokenProgram?: TokenProgramName }): Promise<Address> {
    const mint = readMint(o.mint);
    if (!mint) throw new Error(`no mint at ${o.mint}; createMint first`);
    const programId = o.tokenProgram ? tokenProgramAddress(o.tokenProgram) : mint.programId;
    const ata = await ataOf(o.mint, o.owner, o.tokenProgram ?? (programId === TOKEN_2022_PROGRAM_ADDRESS ? "token-2022" : "token"));
    const before = readTokenAccount(ata)?.token.amount ?? 0n;
    const data = getTokenEncoder().encode({
      mint: o.mint,
      owner: o.owner,
      amount: o.amount,
      delegate: null,
      state: AccountState.Initialized,
      isNative: null,
      delegatedAmount: 0n,
      closeAuthority: null,
    });
    setRentExempt(ata, programId, new Uint8Array(data));
    writeMint(o.mint, mint.programId, { ...mint.mint, supply: mint.mint.supply - before + o.amount });
    return ata;
  }

  async function tokenBalance(mint: Address, owner: Address, tokenProgram?: TokenProgramName): Promise<bigint> {
    return readTokenAccount(await ataOf(mint, owner, tokenProgram))?.token.amount ?? 0n;
  }

  return { account, solBalance, airdrop, readMint, readTokenAccount, createMint, fundToken, tokenBalance, ataOf };
}
