// A zod failure as the operator API reports it: the first problem, naming its field.
import type { z } from "zod";

export function firstProblem(error: z.ZodError): { field: string; message: string } {
  const issue = error.issues[0]!;
  const field = issue.path.join(".") || "(query)";
  const message = issue.code === "unrecognized_keys" ? `unknown parameter(s) ${issue.keys.join(", ")}` : issue.message;
  return { field, message: `${field}: ${message}` };
}

export const invalidRequest = (error: z.ZodError) => ({ error: "invalid_request", ...firstProblem(error) });
