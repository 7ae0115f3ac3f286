// Our /verify over HTTP against an official @x402/evm facilitator scheme used as a library, one
// payload at a time: the answer types, the two verifiers and the loop the differential tests run
// their cases through. Everything not documented on the case itself must agree.
import type { SchemeNetworkFacilitator } from "@x402/core/types";
import { describe, expect, it } from "vitest";
import type { TestFacilitator } from "./facilitator.js";

export type Body = any;
interface Verdict {
  isValid: boolean;
  invalidReason?: string;
  payer?: string;
}
export interface Answer extends Verdict {
  /** HTTP status (ours), or "threw" (official verify threw instead of answering). */
  status: number | "threw";
  error?: string;
  /** Ours, on a 400: the request field it refuses. */
  field?: string;
}

/** A documented difference: both answers, and why they differ. */
export interface Documented {
  official: Partial<Answer>;
  ours: Partial<Answer>;
  why: string;
}

export interface Case {
  name: string;
  /** The official verdict: "valid" or its invalidReason (keeps each mutation honest). */
  want: string;
  build(): Promise<Body>;
  documented?: Documented;
  /** Set on SUSPECTED_BUGS: why our answer looks wrong. */
  suspectedBug?: string;
  /** Which official instance answers, when not the test's default one. */
  reference?: () => SchemeNetworkFacilitator;
}

export const c = (name: string, want: string, build: Case["build"], documented?: Documented): Case => ({ name, want, build, documented });

async function ours(fac: TestFacilitator, b: Body): Promise<Answer> {
  const res = await fetch(`${fac.url}/verify`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(b),
  });
  const json = (await res.json()) as Verdict & { error?: string };
  return { status: res.status, ...json };
}

async function reference(b: Body, scheme: SchemeNetworkFacilitator): Promise<Answer> {
  const copy = structuredClone(b); // neither side may see what the other did to the objects
  try {
    return { status: 200, ...(await scheme.verify(copy.paymentPayload, copy.paymentRequirements)) };
  } catch (err) {
    return { status: "threw", isValid: false, error: (err as Error).message.split("\n")[0] };
  }
}

const strip = (a: Answer) => ({
  status: a.status,
  isValid: a.isValid,
  invalidReason: a.invalidReason,
  payer: a.payer,
  error: a.error,
  field: a.field,
});

/**
 * One test per case: isValid, invalidReason and payer must agree, except where the case documents
 * both answers; then a test that every case was compared.
 */
export function describeDifferential(opts: {
  title: string;
  /** Names the run in the count it logs. */
  label: string;
  cases: Case[];
  facilitator: () => TestFacilitator;
  official: () => SchemeNetworkFacilitator;
}) {
  const compared: { name: string; ours: Answer; official: Answer }[] = [];

  describe(opts.title, () => {
    it.for(opts.cases)("$name", async (tc) => {
      const b = await tc.build();
      const [o, r] = await Promise.all([ours(opts.facilitator(), b), reference(b, tc.reference?.() ?? opts.official())]);
      compared.push({ name: tc.name, ours: o, official: r });
      const context =
        `${tc.name}\n  ours:     ${JSON.stringify(strip(o))}\n  official: ${JSON.stringify(strip(r))}` +
        (tc.suspectedBug ? `\n  SUSPECTED BUG IN OUR FACILITATOR: ${tc.suspectedBug}` : "") +
        (tc.documented ? `\n  documented difference: ${tc.documented.why}` : "");

      if (tc.documented) {
        expect(strip(r), `official answer changed: ${context}`).toMatchObject(tc.documented.official);
        expect(strip(o), `our answer changed: ${context}`).toMatchObject(tc.documented.ours);
        return;
      }
      expect(r.isValid ? "valid" : (r.invalidReason ?? `threw: ${r.error}`), `case does not exercise what it claims: ${context}`).toBe(
        tc.want,
      );
      expect(o.status, context).toBe(200);
      expect(o.isValid, `isValid disagrees: ${context}`).toBe(r.isValid);
      expect(o.invalidReason, `invalidReason disagrees: ${context}`).toBe(r.invalidReason);
      expect(o.payer, `payer disagrees: ${context}`).toBe(r.payer);
    });

    it("compared every case", () => {
      const valid = compared.filter((x) => x.official.isValid).length;
      console.log(`differential ${opts.label} /verify: ${compared.length} payloads compared (${valid} valid)`);
      expect(compared.length).toBe(opts.cases.length);
    });
  });
}
