// Loads the relayer keys (worker only). Keys come from RELAYER_PRIVATE_KEY or from the file
// named by RELAYER_PRIVATE_KEY_FILE, comma- or newline-separated. Errors name the variable,
// never the key.
import { privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";
import { ConfigError, type Config } from "../config/config.js";
import { readKeySource } from "../config/key-source.js";
import { withNativeSigning } from "../evm/native-signing.js";

export function loadRelayerKeys(source: Config["relayerKeySource"]): PrivateKeyAccount[] {
  const { variable, text } = readKeySource(source, "RELAYER_PRIVATE_KEY");
  if (!text) throw new ConfigError("RELAYER_PRIVATE_KEY", "is required by the worker (or set RELAYER_PRIVATE_KEY_FILE)");
  const keys = text.split(/[\s,]+/).filter(Boolean);
  const accounts = keys.map((k, i) => {
    const hex = k.startsWith("0x") ? k : `0x${k}`;
    if (!/^0x[0-9a-fA-F]{64}$/.test(hex)) throw new ConfigError(variable, `key #${i + 1} is not 32 bytes of hex`);
    return withNativeSigning(privateKeyToAccount(hex as `0x${string}`), hex as `0x${string}`);
  });
  if (new Set(accounts.map((a) => a.address)).size !== accounts.length) throw new ConfigError(variable, "the same key is listed twice");
  return accounts;
}
