// Wire schemas of the facilitator API (x402 v1 and v2). Everything the facilitator reads is
// typed strictly (exact hex lengths, canonical decimal uint256, no coercion); envelope fields it
// only passes along (resource, description, outputSchema, extensions…) are kept loose so newer
// clients keep working.
import type { Address, Hex } from "viem";
import { z } from "zod";
import { isSvmNetworkName, SVM_ADDRESS } from "../config/solana-networks.js";

const EVM_ADDRESS_FULL = /^0x[0-9a-fA-F]{40}$/;

const MAX_UINT256 = (1n << 256n) - 1n;
/** Largest signature accepted: room for ERC-1271 and ERC-6492 wrappers, far below the body limit. */
export const MAX_SIGNATURE_BYTES = 4096;

// zod 4 runs later checks even after a failed one; `abort: true` keeps BigInt() from ever seeing a
// string the regex refused (it would throw, and a throw is a 500).
export const uint256 = z
  .string()
  .regex(/^(0|[1-9][0-9]{0,77})$/, { message: "must be a canonical decimal integer string", abort: true })
  .refine((s) => BigInt(s) <= MAX_UINT256, "must be below 2^256");
export const address = z
  .string()
  .regex(/^0x[0-9a-fA-F]{40}$/, "must be a 0x-prefixed 20-byte hex address")
  .transform((s) => s as Address);
export const bytes32 = z
  .string()
  .regex(/^0x[0-9a-fA-F]{64}$/, "must be 0x-prefixed 32-byte hex")
  .transform((s) => s as Hex);
export const signatureHex = z
  .string()
  .regex(new RegExp(`^0x(?:[0-9a-fA-F]{2}){1,${MAX_SIGNATURE_BYTES}}$`), `must be 0x-prefixed hex of 1 to ${MAX_SIGNATURE_BYTES} bytes`)
  .transform((s) => s as Hex);
const shortString = z.string().min(1).max(128);

/** Nesting allowed in a value passed along unread; real envelopes (JSON schemas included) stay far below. */
const MAX_NESTING = 64;
// Bounded by the budget, so this walk can never run out of stack, whatever the body holds.
const nestsDeeper = (v: unknown, budget: number): boolean =>
  typeof v === "object" && v !== null && (budget === 0 || Object.values(v).some((child) => nestsDeeper(child, budget - 1)));
// Unread values still get walked later (the settle request hash recurses through them): a body
// nested a few thousand levels deep, well under the body limit, would overflow that stack.
const passedAlong = z.unknown().refine((v) => !nestsDeeper(v, MAX_NESTING), `must not nest deeper than ${MAX_NESTING} levels`);
/** An object whose unknown keys are kept (newer clients add fields), within the nesting bound. */
export const openObject = <Shape extends z.core.$ZodLooseShape>(shape: Shape) => z.object(shape).catchall(passedAlong);

/**
 * The payload as the envelope sees it: an object, read (and bounded) afterwards by the schema of
 * its payment method (src/schemes), so it is not walked twice here.
 */
const payloadEnvelope = z.looseObject({});

const extraSchema = openObject({ name: shortString.optional(), version: shortString.optional() }).nullish();

/**
 * An asset or payTo: a 0x EVM address or a base58 Solana one. Which of the two a request may use
 * is decided by its network once the envelope is read (see parseFacilitatorRequest).
 */
const chainAddress = z
  .string()
  .refine((s) => EVM_ADDRESS_FULL.test(s) || SVM_ADDRESS.test(s), "must be a 0x-prefixed 20-byte hex address or a base58 Solana address")
  .transform((s) => s as Address);

const requirementsCommon = {
  scheme: shortString,
  asset: chainAddress,
  payTo: chainAddress,
  maxTimeoutSeconds: z.number().finite().nonnegative().optional(),
  extra: extraSchema,
};

export const requirementsV1Schema = openObject({
  ...requirementsCommon,
  network: z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, "must be a v1 network name"),
  maxAmountRequired: uint256,
});

export const requirementsV2Schema = openObject({
  ...requirementsCommon,
  network: z.string().regex(/^[-a-z0-9]{3,8}:[-_a-zA-Z0-9]{1,64}$/, "must be a CAIP-2 network id"),
  amount: uint256,
});

export const payloadV1Schema = openObject({
  x402Version: z.literal(1),
  scheme: shortString,
  network: requirementsV1Schema.shape.network,
  payload: payloadEnvelope,
});

export const payloadV2Schema = openObject({
  x402Version: z.literal(2),
  accepted: requirementsV2Schema,
  payload: payloadEnvelope,
});

/** The /verify and /settle body; the payload's own version decides which shape applies. */
export const facilitatorRequestSchema = z.discriminatedUnion("version", [
  z.strictObject({
    version: z.literal(1),
    x402Version: z.literal(1).optional(),
    paymentPayload: payloadV1Schema,
    paymentRequirements: requirementsV1Schema,
  }),
  z.strictObject({
    version: z.literal(2),
    x402Version: z.literal(2).optional(),
    paymentPayload: payloadV2Schema,
    paymentRequirements: requirementsV2Schema,
  }),
]);

export type FacilitatorRequest = z.infer<typeof facilitatorRequestSchema>;
export type RequirementsV1 = z.infer<typeof requirementsV1Schema>;
export type RequirementsV2 = z.infer<typeof requirementsV2Schema>;

export interface RequestParseError {
  field: string;
  message: string;
}

/** The schema of a payment payload, chosen by its shape and the scheme asked for (src/schemes: each method brings its own). */
export type PayloadSchemaFor = (payload: Record<string, unknown>, scheme: string) => z.ZodType;

/**
 * Parses a body: the envelope here, the payload by the schema of the method that reads it. The
 * version is taken from paymentPayload.x402Version (as the reference does); the top-level
 * x402Version, when present, must agree with it.
 */
export function parseFacilitatorRequest(
  body: unknown,
  payloadSchemaFor: PayloadSchemaFor,
): { ok: true; value: FacilitatorRequest } | { ok: false; error: RequestParseError } {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return { ok: false, error: { field: "(body)", message: "must be a JSON object" } };
  }
  const payload = (body as { paymentPayload?: unknown }).paymentPayload;
  const version = typeof payload === "object" && payload !== null ? (payload as { x402Version?: unknown }).x402Version : undefined;
  if (version !== 1 && version !== 2) {
    const field = payload === undefined ? "paymentPayload" : "paymentPayload.x402Version";
    return { ok: false, error: { field, message: payload === undefined ? "is required" : "must be 1 or 2" } };
  }
  const parsed = facilitatorRequestSchema.safeParse({ ...body, version });
  if (!parsed.success) return { ok: false, error: describeIssue(parsed.error.issues[0]!, []) };
  const wrongFamily = addressFamilyProblem(parsed.data.paymentRequirements);
  if (wrongFamily) return { ok: false, error: wrongFamily };
  const envelope = parsed.data.paymentPayload;
  const read = payloadSchemaFor(envelope.payload, parsed.data.paymentRequirements.scheme).safeParse(envelope.payload);
  if (!read.success) return { ok: false, error: describeIssue(read.error.issues[0]!, ["paymentPayload", "payload"]) };
  envelope.payload = read.data as Record<string, unknown>;
  return { ok: true, value: parsed.data };
}

const EVM_ADDRESS = /^0x/;

/** A Solana network takes base58 addresses, every other network 0x ones. */
function addressFamilyProblem(r: { network: string; asset: string; payTo: string }): RequestParseError | undefined {
  const solana = isSvmNetworkName(r.network);
  for (const field of ["asset", "payTo"] as const) {
    if (EVM_ADDRESS.test(r[field]) === solana)
      return {
        field: `paymentRequirements.${field}`,
        message: solana ? "must be a base58 Solana address on a Solana network" : "must be a 0x-prefixed 20-byte hex address",
      };
  }
  return undefined;
}

/** A union failure names the deepest issue of the branch that got furthest, not "Invalid input". */
function describeIssue(issue: z.core.$ZodIssue, prefix: PropertyKey[]): RequestParseError {
  const path = [...prefix, ...issue.path];
  if (issue.code === "invalid_union" && issue.errors.length > 0) {
    const branch = issue.errors.reduce(
      (best, b) => (b.length && (!best.length || depth(b) > depth(best)) ? b : best),
      [] as z.core.$ZodIssue[],
    );
    if (branch[0]) return describeIssue(branch[0], path);
  }
  const field = path.map(String).join(".") || "(body)";
  const message = issue.code === "unrecognized_keys" ? `unknown field(s) ${issue.keys.join(", ")}` : issue.message;
  return { field, message };
}

const depth = (issues: z.core.$ZodIssue[]) => Math.max(...issues.map((i) => i.path.length));
