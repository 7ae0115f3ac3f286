// Loads the Solana side (src/svm/enabled.ts) only when a cluster is enabled.
export type SvmModule = typeof import("./enabled.js");

export const loadSvm = async (enabled: boolean): Promise<SvmModule | undefined> => (enabled ? import("./enabled.js") : undefined);
