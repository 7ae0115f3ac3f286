// Kept for the interop tests: every startTestApi/startFacilitator call now gets its own
// database (see database.ts), so this only hands out another fresh one.
import { createTestDatabase } from "./database.js";

export interface IsolatedDatabase {
  url: string;
  drop(): Promise<void>;
}

export async function createIsolatedDatabase(_label = "file"): Promise<IsolatedDatabase> {
  return { url: await createTestDatabase(), drop: async () => {} };
}
