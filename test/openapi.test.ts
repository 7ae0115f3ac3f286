// The OpenAPI document: valid OpenAPI 3.1, and it covers every route the app registers (operator
// and webhook APIs included) with its answers and error shapes; /docs serves a page to read it.
import SwaggerParser from "@apidevtools/swagger-parser";
import { expect, it } from "vitest";
import { ROUTE_DOCS } from "../src/http/openapi/routes.js";
import { startFacilitator } from "./support/facilitator.js";
import { useLab } from "./support/lab.js";

const lab = useLab();

interface Operation {
  summary?: string;
  responses: Record<string, { content?: Record<string, { schema?: unknown }> }>;
}

it("is valid OpenAPI and documents every registered route, with error answers", async () => {
  lab.fac = await startFacilitator(lab.chain, { METRICS_API_KEY: "metrics-key-0123456789abcdef" }, { worker: false });
  const res = await fetch(`${lab.fac.url}/openapi.json`);
  expect(res.status).toBe(200);
  const doc = (await res.json()) as { openapi: string; paths: Record<string, Record<string, Operation>> };
  expect(doc.openapi).toBe("3.1.0");
  await SwaggerParser.validate(structuredClone(doc) as never);

  const documented = new Set(
    Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ":$1")}`),
    ),
  );
  // The viewer's own pages and assets are not part of the API.
  const registered = lab.fac.api.app.registeredRoutes.filter((r) => !/^GET \/docs(\/|$)/.test(r));
  expect(registered.length).toBeGreaterThan(15);
  expect(registered.filter((r) => !documented.has(r))).toEqual([]);
  expect([...documented].filter((r) => !registered.includes(r))).toEqual([]);
  expect(Object.keys(ROUTE_DOCS).sort()).toEqual([...new Set(registered)].sort());

  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const where = `${method.toUpperCase()} ${path}`;
      expect(op.summary, where).toBeTruthy();
      const codes = Object.keys(op.responses);
      // A success answer: 2xx, or the redirect a form post ends in.
      expect(
        codes.some((c) => /^[23]/.test(c)),
        where,
      ).toBe(true);
      // Anything that reads input or the ledger says how it refuses.
      if (/settlements|webhooks|verify|settle/.test(path))
        expect(
          codes.some((c) => c.startsWith("4")),
          where,
        ).toBe(true);
    }
  }
  // The body names each payment method's own payload.
  const settle = doc.paths["/settle"]!.post! as Operation & { requestBody: unknown };
  for (const key of ['"authorization"', '"permit2Authorization"', '"facilitator"'])
    expect(JSON.stringify(settle.requestBody)).toContain(key);
  expect(settle.responses["200"]!.content!["application/json"]!.schema).toMatchObject({
    required: ["success", "payer", "transaction", "network"],
  });

  const page = await fetch(`${lab.fac.url}/docs`, { redirect: "follow" });
  expect(page.status).toBe(200);
  expect(await page.text()).toMatch(/swagger/i);
});
