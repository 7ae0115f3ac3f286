// Where a process's secret keys come from: a variable holding them, or a file the other variable
// names. Errors name the variable (and the file's error code), never the key.
import { readFileSync } from "node:fs";
import { ConfigError } from "./config.js";

/** The key text and the variable it came from (the inline one when neither is set). */
export function readKeySource(source: { inline?: string; file?: string }, variable: string): { variable: string; text?: string } {
  if (source.inline || !source.file) return { variable, text: source.inline };
  const fileVariable = `${variable}_FILE`;
  try {
    return { variable: fileVariable, text: readFileSync(source.file, "utf8") };
  } catch (err) {
    throw new ConfigError(fileVariable, `cannot read the key file (${(err as NodeJS.ErrnoException).code ?? "error"})`);
  }
}
