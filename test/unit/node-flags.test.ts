// The production entry points (npm start scripts, the image's ENTRYPOINT) run with the heap
// settings src/runtime/node-flags.ts names, which the bench measures: one list, no drift.
import { readFileSync } from "node:fs";
import { expect, it } from "vitest";
import { NODE_FLAGS } from "../../src/runtime/node-flags.js";

const root = new URL("../../", import.meta.url);
const flags = NODE_FLAGS.join(" ");

it("every start script runs the compiled and the TypeScript entry with the flags", () => {
  const scripts = JSON.parse(readFileSync(new URL("package.json", root), "utf8")).scripts as Record<string, string>;
  for (const [name, mode] of [
    ["start", "all"],
    ["start:api", "api"],
    ["start:worker", "worker"],
  ]) {
    expect(scripts[name!]).toContain(`node ${flags} dist/main.js ${mode}`);
    expect(scripts[name!]).toContain(`tsx ${flags} src/main.ts ${mode}`);
  }
});

it("the image's entry point runs with the flags", () => {
  const entry = readFileSync(new URL("Dockerfile", root), "utf8")
    .split("\n")
    .find((l) => l.startsWith("ENTRYPOINT"));
  expect(JSON.parse(entry!.slice("ENTRYPOINT".length))).toEqual(["node", ...NODE_FLAGS, "dist/main.js"]);
});
