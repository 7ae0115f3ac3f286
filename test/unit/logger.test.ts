// Secrets never reach the log: bearer keys, relayer keys and signatures are redacted by path,
// and URLs in error messages lose their credentials, paths and queries.
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger, scrubUrls, shortSig } from "../../src/logger.js";

function capture() {
  const lines: string[] = [];
  const stream = new Writable({ write: (chunk, _enc, cb) => (lines.push(String(chunk)), cb()) });
  return { logger: createLogger("info", stream), text: () => lines.join("") };
}

describe("logger", () => {
  it("redacts authorization headers, private keys and signatures", () => {
    const { logger, text } = capture();
    const key = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
    const sig = `0x${"ab".repeat(65)}`;
    logger.info(
      {
        req: { headers: { authorization: "Bearer merchant-secret" } },
        relayer: { privateKey: key },
        payload: { signature: sig },
        signature: sig,
      },
      "x",
    );
    expect(text()).not.toContain("merchant-secret");
    expect(text()).not.toContain(key.slice(2));
    expect(text()).not.toContain("ab".repeat(20));
    expect(text()).toContain("[redacted]");
  });

  it("scrubs credentials, paths and queries from URLs in error messages and stacks", () => {
    const { logger, text } = capture();
    logger.error({ err: new Error("request to https://user:pass@rpc.example.com/v2/SECRETKEY?apikey=Q failed") }, "rpc");
    expect(text()).not.toMatch(/SECRETKEY|pass@|apikey=Q/);
    expect(text()).toContain("https://rpc.example.com/…");
  });

  it("scrubUrls keeps scheme, host and port only; shortSig keeps a prefix", () => {
    expect(scrubUrls("see http://127.0.0.1:8545/abc and wss://x.io/k?t=1")).toBe("see http://127.0.0.1:8545/… and wss://x.io/…");
    expect(shortSig(`0x${"cd".repeat(65)}`)).toBe("0xcdcdcdcd…(65B)");
  });
});
