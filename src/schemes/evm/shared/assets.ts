// Which payment methods may move an allowlisted asset (NETWORKS_FILE `transferMethods`).
import type { AssetConfig, TransferMethod } from "../../../config/networks.js";

export const allowsMethod = (asset: AssetConfig, method: TransferMethod) =>
  (asset.transferMethods ?? ["eip3009", "permit2"]).includes(method);
