// The lifecycle most settlement test files share: one anvil chain for the file, and a
// facilitator per test that is closed after it (with automine back on for the next test).
import { afterAll, afterEach, beforeAll } from "vitest";
import { startTestChain, type TestChain } from "./chain.js";
import type { TestFacilitator } from "./facilitator.js";

export interface Lab {
  chain: TestChain;
  /** The test's facilitator, if it started one: closed after the test. */
  fac?: TestFacilitator;
}

export function useLab(opts: { afterEach?: () => Promise<void> } = {}): Lab {
  const lab = {} as Lab;
  beforeAll(async () => {
    lab.chain = await startTestChain();
  });
  afterEach(async () => {
    await lab.fac?.close();
    lab.fac = undefined;
    await opts.afterEach?.();
    await lab.chain.test.setAutomine(true);
  });
  afterAll(async () => lab.chain?.stop());
  return lab;
}
