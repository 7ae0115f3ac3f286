// The Grafana dashboard operators import (docker/monitoring): every metric it queries is one the
// api or the worker really exports, it picks its datasource through a variable, and Prometheus's
// scrape targets are the compose services' metrics ports.
import { readFileSync } from "node:fs";
import { expect, it } from "vitest";
import { startFacilitator } from "./support/facilitator.js";
import { useLab } from "./support/lab.js";
import { freePort } from "./support/ports.js";

const DASHBOARD = "docker/monitoring/grafana/dashboards/x402-facilitator.json";
const lab = useLab();

interface Panel {
  type: string;
  title: string;
  datasource?: { uid?: string };
  targets?: { expr: string; datasource?: { uid?: string } }[];
}

/** Metric families a /metrics page declares (`# TYPE name kind`). */
async function families(url: string): Promise<Map<string, string>> {
  const text = await (await fetch(url)).text();
  return new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
}

it("every metric the dashboard queries is exported by the api or the worker", async () => {
  lab.fac = await startFacilitator(lab.chain, {}, { worker: false });
  const worker = await lab.fac.startWorker({ WORKER_METRICS_PORT: String(await freePort()) });
  const exported = new Map([
    ...(await families(`${lab.fac.url}/metrics`)),
    ...(await families(`http://127.0.0.1:${worker.metricsPort}/metrics`)),
  ]);

  const dashboard = JSON.parse(readFileSync(DASHBOARD, "utf8")) as {
    panels: Panel[];
    templating: { list: { name: string; type: string }[] };
  };
  expect(dashboard.templating.list).toContainEqual(expect.objectContaining({ name: "DS_PROMETHEUS", type: "datasource" }));
  const queried = dashboard.panels.filter((p) => p.type !== "row");
  expect(queried.length).toBeGreaterThan(10);
  const missing: string[] = [];
  for (const panel of queried) {
    expect(panel.datasource?.uid, panel.title).toBe("${DS_PROMETHEUS}");
    expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
    for (const t of panel.targets!) {
      expect(t.datasource?.uid, panel.title).toBe("${DS_PROMETHEUS}");
      const names = [...t.expr.matchAll(/\bx402_[a-z0-9_]+/g)].map((m) => m[0]);
      expect(names.length, `${panel.title}: ${t.expr}`).toBeGreaterThan(0);
      for (const name of names) {
        // A histogram is exported as one family; queries read its _bucket, _count and _sum series.
        const family = exported.has(name) ? name : name.replace(/_(bucket|count|sum)$/, "");
        const kind = exported.get(family);
        if (!kind || (family !== name && kind !== "histogram")) missing.push(`${panel.title}: ${name}`);
      }
    }
  }
  expect(missing).toEqual([]);
});

it("Prometheus scrapes the compose services where they serve /metrics, and Grafana loads the dashboard from where it is mounted", () => {
  const prometheus = readFileSync("docker/monitoring/prometheus.yml", "utf8");
  expect(prometheus).toMatch(/targets: \["api:4021"\]/);
  expect(prometheus).toMatch(/targets: \["worker:9464"\]/);
  const compose = readFileSync("docker-compose.yml", "utf8");
  expect(compose).toContain('WORKER_METRICS_PORT: "9464"');
  expect(compose).toContain("./docker/monitoring/grafana/dashboards:/var/lib/grafana/dashboards:ro");
  const provider = readFileSync("docker/monitoring/grafana/provisioning/dashboards/x402.yml", "utf8");
  expect(provider).toContain("path: /var/lib/grafana/dashboards");
});
