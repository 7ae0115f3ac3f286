// Bad input as the operator and admin APIs report it: HTTP 400 with the first problem, naming
// its field; and the input shapes several of them share.
import type { FastifyReply } from "fastify";
import { z } from "zod";
import { SVM_ADDRESS } from "../config/solana-networks.js";

export function firstProblem(error: z.ZodError, whole = "(query)"): { field: string; message: string } {
  const issue = error.issues[0]!;
  const field = issue.path.join(".") || whole;
  const message = issue.code === "unrecognized_keys" ? `unknown parameter(s) ${issue.keys.join(", ")}` : issue.message;
  return { field, message: `${field}: ${message}` };
}

export const invalidRequest = (error: z.ZodError, whole?: string) => ({ error: "invalid_request", ...firstProblem(error, whole) });

export const badRequest = (reply: FastifyReply, error: z.ZodError, whole?: string) => reply.code(400).send(invalidRequest(error, whole));

/** An address as the ledger keeps it (lower case). */
export const lowerAddress = z
  .string()
  .regex(/^0x[0-9a-fA-F]{40}$/, "must be a 0x-prefixed 20-byte hex address")
  .transform((s) => s.toLowerCase());

/** An EVM address (lowercased, as the ledger keeps it) or a base58 Solana one (kept as it is: case matters). */
export const ledgerAddress = z
  .string()
  .refine(
    (s) => /^0x[0-9a-fA-F]{40}$/.test(s) || SVM_ADDRESS.test(s),
    "must be a 0x-prefixed 20-byte hex address or a base58 Solana address",
  )
  .transform((s) => (s.startsWith("0x") ? s.toLowerCase() : s));

/** A page size of 1 to 500, as a query parameter. */
export const pageLimit = z
  .string()
  .regex(/^[1-9][0-9]{0,2}$/, "must be 1 to 500")
  .transform(Number)
  .refine((n) => n <= 500, "must be 1 to 500");
