// One pino logger for every process. Secrets never reach the log: bearer keys and relayer keys
// are redacted by path, signatures are cut to a prefix, and URLs are reduced to scheme and host
// because RPC providers put API keys in paths, queries and userinfo.
import pino, { type Logger } from "pino";

const URL_PATTERN = /\b(https?|wss?):\/\/[^\s"'<>]+/gi;

export function scrubUrls(text: string): string {
  return text.replace(URL_PATTERN, (match) => {
    try {
      const u = new URL(match);
      return `${u.protocol}//${u.hostname}${u.port ? `:${u.port}` : ""}/…`;
    } catch {
      return "[url]";
    }
  });
}

/** Enough of a signature to correlate log lines, not enough to replay it. */
export const shortSig = (sig: string): string => (sig.length > 14 ? `${sig.slice(0, 10)}…(${(sig.length - 2) / 2}B)` : sig);

function serializeError(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { message: scrubUrls(String(err)) };
  const out: Record<string, unknown> = { type: err.name, message: scrubUrls(err.message) };
  if (err.stack) out.stack = scrubUrls(err.stack);
  const cause = (err as { cause?: unknown }).cause;
  if (cause) out.cause = serializeError(cause);
  return out;
}

export const REDACT_PATHS = [
  "req.headers.authorization",
  "headers.authorization",
  "*.privateKey",
  "*.relayerPrivateKey",
  "privateKey",
  "signature",
  "*.signature",
  "*.*.signature",
  "rpcUrls",
  "*.rpcUrls",
  "databaseUrl",
  "redisUrl",
];

export function createLogger(level = "info", destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      serializers: { err: serializeError, error: serializeError },
      base: { pid: process.pid },
    },
    destination,
  );
}
