import path from "node:path";
import { fileURLToPath } from "node:url";
import { compileCached, packageDir, type Artifact } from "./solc-cache.js";
import { permit2SourceRoot } from "./permit2-canonical.js";

/** Our own Solidity under src/devnet/contracts, by contract name. */
export type OwnContract = "x402ExactPermit2Proxy" | "x402UptoPermit2Proxy" | "PermitTestToken";

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), "contracts");
const FILES: Record<OwnContract, string> = {
  x402ExactPermit2Proxy: "x402ExactPermit2Proxy.sol",
  x402UptoPermit2Proxy: "x402UptoPermit2Proxy.sol",
  PermitTestToken: "PermitTestToken.sol",
};

/** One compile (and one cache entry) for all of them; ReentrancyGuardTransient needs cancun's TSTORE. */
export async function ownArtifact(name: OwnContract): Promise<Artifact> {
  const entries = Object.fromEntries(Object.values(FILES).map((f) => [f, path.join(dir, f)]));
  const artifacts = await compileCached({
    solc: "solc",
    entries,
    remappings: {
      "@openzeppelin/contracts/": packageDir("@openzeppelin/contracts"),
      "permit2/": permit2SourceRoot(),
    },
    settings: { optimizer: { enabled: true, runs: 200 }, evmVersion: "cancun", metadata: { bytecodeHash: "none" } },
    contracts: Object.entries(FILES).map(([n, f]) => `${f}:${n}`),
  });
  return artifacts[`${FILES[name]}:${name}`] as Artifact;
}
