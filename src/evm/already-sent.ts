// A node refusing a raw transaction it already holds (or has mined) is not a failure of ours:
// whoever sends or resends stored bytes treats these answers as "it is out there".
import { BaseError } from "viem";

const ALREADY_SENT = /already known|known transaction|nonce too low|already imported|transaction already exists/i;

/** The node's words for an error, as far as viem kept them. */
export const errorText = (err: unknown): string => (err instanceof BaseError ? `${err.shortMessage} ${err.details}` : String(err));

export const isAlreadySent = (err: unknown): boolean => ALREADY_SENT.test(errorText(err));
