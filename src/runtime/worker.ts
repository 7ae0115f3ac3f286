// Placeholder until the settlement worker lands: fails loudly instead of pretending to work.
import type { Logger } from "pino";
import type { Config } from "../config/config.js";

export async function startWorker(_config: Config, _logger: Logger): Promise<{ close(): Promise<void> }> {
  throw new Error("the settlement worker is not built yet");
}
