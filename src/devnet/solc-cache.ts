import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { Abi, Hex } from "viem";

/** The solc-js builds this repo ships: the project's default one and the release Permit2 pins. */
export type SolcPackage = "solc" | "solc-0.8.17";

export interface ImmutableRefs {
  [astId: string]: { start: number; length: number }[];
}

export interface Artifact {
  abi: Abi;
  bytecode: Hex;
  deployedBytecode: Hex;
  immutableReferences: ImmutableRefs;
}

export interface CompileRequest {
  solc: SolcPackage;
  /** Source unit name → absolute path; imports are followed from these. */
  entries: Record<string, string>;
  /** Import prefix → directory, e.g. "@openzeppelin/contracts/" → that package's folder. */
  remappings: Record<string, string>;
  /** Standard-JSON settings other than outputSelection. */
  settings: Record<string, unknown>;
  /** "unit:Contract" names to produce bytecode for; solc skips code generation for the rest. */
  contracts: string[];
}

const require = createRequire(import.meta.url);
const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const cacheDir = process.env.X402_DEVNET_SOLC_CACHE ?? path.join(projectRoot, "node_modules/.cache/x402-devnet");

const IMPORT = /^\s*import\s+(?:[^"';]*?\s+from\s+)?["']([^"']+)["']/gm;

/** Reads every source reachable from the entries, named as solc will name them. */
function collectSources(req: CompileRequest): Record<string, { content: string }> {
  const sources: Record<string, { content: string }> = {};
  const fileOf = new Map(Object.entries(req.entries));
  const todo = [...fileOf.keys()];
  for (let unit = todo.pop(); unit !== undefined; unit = todo.pop()) {
    if (sources[unit]) continue;
    const file = fileOf.get(unit);
    if (!file) throw new Error(`cannot locate Solidity import ${unit}`);
    const content = readFileSync(file, "utf8");
    sources[unit] = { content };
    for (const [, spec] of content.matchAll(IMPORT)) {
      if (!spec) continue;
      const prefix = Object.keys(req.remappings).find((p) => spec.startsWith(p));
      let dep: string;
      if (prefix) {
        dep = spec;
        fileOf.set(dep, path.join(req.remappings[prefix] as string, spec.slice(prefix.length)));
      } else {
        dep = path.posix.normalize(path.posix.join(path.posix.dirname(unit), spec));
        fileOf.set(dep, path.join(path.dirname(file), spec));
      }
      todo.push(dep);
    }
  }
  return sources;
}

interface SolcOutput {
  errors?: { severity: string; formattedMessage: string }[];
  contracts?: Record<
    string,
    Record<
      string,
      {
        abi: Abi;
        evm: { bytecode: { object: string }; deployedBytecode: { object: string; immutableReferences?: ImmutableRefs } };
      }
    >
  >;
}

// Plain CommonJS for an eval'd worker: no TypeScript loader is needed inside it.
const WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
parentPort.postMessage(require(workerData.solc).compile(workerData.input));
`;

/** Runs solc on a worker thread: a via-IR build holds a core for seconds, and the event loop must keep serving meanwhile. */
function runSolc(pkg: SolcPackage, input: unknown): Promise<SolcOutput> {
  const worker = new Worker(WORKER, { eval: true, workerData: { solc: require.resolve(pkg), input: JSON.stringify(input) } });
  return new Promise<SolcOutput>((resolve, reject) => {
    worker.once("message", (out: string) => resolve(JSON.parse(out) as SolcOutput));
    worker.once("error", reject);
    worker.once("exit", (code) => reject(new Error(`solc worker exited with code ${code}`)));
  }).finally(() => void worker.terminate());
}

function writeAtomically(file: string, text: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  // Parallel test workers may compile the same input; rename makes the last writer win whole.
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

const pending = new Map<string, Promise<Record<string, Artifact>>>();

/**
 * Compiles through solc's standard JSON, keeping the result on disk keyed by compiler release,
 * sources and settings, so only the first run on a machine pays for it (Permit2's via-IR build
 * takes seconds of CPU that every test file would otherwise repeat).
 */
export function compileCached(req: CompileRequest): Promise<Record<string, Artifact>> {
  const sources = collectSources(req);
  const outputSelection: Record<string, Record<string, string[]>> = {};
  for (const id of req.contracts) {
    const [unit, name] = id.split(":") as [string, string];
    (outputSelection[unit] ??= {})[name] = [
      "abi",
      "evm.bytecode.object",
      "evm.deployedBytecode.object",
      "evm.deployedBytecode.immutableReferences",
    ];
  }
  const input = { language: "Solidity", sources, settings: { ...req.settings, outputSelection } };
  const { version } = require(`${req.solc}/package.json`) as { version: string };
  const key = createHash("sha256").update(version).update("\0").update(JSON.stringify(input)).digest("hex");
  let result = pending.get(key);
  if (!result) {
    result = compileOnce(req, input, version, path.join(cacheDir, `${key}.json`));
    pending.set(key, result);
    result.catch(() => pending.delete(key));
  }
  return result;
}

async function compileOnce(req: CompileRequest, input: unknown, version: string, file: string): Promise<Record<string, Artifact>> {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as Record<string, Artifact>;
  } catch {
    // Missing or unreadable: compile below.
  }
  const output = await runSolc(req.solc, input);
  const errors = (output.errors ?? []).filter((e) => e.severity === "error");
  if (errors.length) throw new Error(`solc ${version} failed:\n${errors.map((e) => e.formattedMessage).join("\n")}`);
  const artifacts: Record<string, Artifact> = {};
  for (const id of req.contracts) {
    const [unit, name] = id.split(":") as [string, string];
    const c = output.contracts?.[unit]?.[name];
    if (!c) throw new Error(`solc produced no ${id}`);
    artifacts[id] = {
      abi: c.abi,
      bytecode: `0x${c.evm.bytecode.object}`,
      deployedBytecode: `0x${c.evm.deployedBytecode.object}`,
      immutableReferences: c.evm.deployedBytecode.immutableReferences ?? {},
    };
  }
  try {
    writeAtomically(file, JSON.stringify(artifacts));
  } catch {
    // A cache that cannot be written (a read-only install, as in the devnet image) only costs time.
  }
  return artifacts;
}

/** Folder of an installed npm package (via its package.json, which every package exports or ships). */
export function packageDir(name: string): string {
  return path.dirname(require.resolve(`${name}/package.json`));
}
