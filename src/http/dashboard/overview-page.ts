// The overview: search, outcomes over the last hour and day, the backlog, relayer lanes, webhook
// endpoints with their failing deliveries, and the newest settlements.
import type { SettlementResource } from "../../settle/present.js";
import { age, settlementHref, settlementsTable, state, time } from "./fragments.js";
import { html, type SafeHtml } from "./html.js";
import { layout } from "./layout.js";
import type { RelayerStatus } from "./relayer-status.js";
import { relayersSection } from "./relayers-section.js";
import { searchForm } from "./search-page.js";
import type { Backlog, Outcomes } from "./settlement-stats.js";
import type { WebhookStatus } from "./webhook-status.js";
import { webhooksSection } from "./webhooks-section.js";

export interface Overview {
  recent: SettlementResource[];
  outcomes: Outcomes[];
  backlog: Backlog;
  relayers: RelayerStatus[];
  /** Undefined when the api manages no webhooks. */
  webhooks?: WebhookStatus[];
}

function outcomesSection(outcomes: Outcomes[]): SafeHtml {
  return html`<section id="outcomes">
    <h2>Outcomes</h2>
    <table>
      <thead>
        <tr>
          <th>Window</th>
          <th>Claimed</th>
          <th>Succeeded</th>
          <th>Failed</th>
          <th>In progress or needs review</th>
        </tr>
      </thead>
      <tbody>
        ${outcomes.map(
          (o) =>
            html`<tr>
              <td>last ${o.window}</td>
              <td class="num">${o.total}</td>
              <td class="num">${o.succeeded}</td>
              <td class="num">${o.failed}</td>
              <td class="num">${o.total - o.succeeded - o.failed}</td>
            </tr>`,
        )}
      </tbody>
    </table>
    <h3>Failures by reason</h3>
    <table>
      <thead>
        <tr>
          <th>Window</th>
          <th>State</th>
          <th>Reason</th>
          <th>Count</th>
        </tr>
      </thead>
      <tbody>
        ${outcomes.flatMap((o) =>
          o.failures.length
            ? o.failures.map(
                (f) =>
                  html`<tr>
                    <td>last ${o.window}</td>
                    <td>${state(f.state)}</td>
                    <td>${f.reason ?? "–"}</td>
                    <td class="num">${f.count}</td>
                  </tr>`,
              )
            : [
                html`<tr>
                  <td>last ${o.window}</td>
                  <td colspan="3">none</td>
                </tr>`,
              ],
        )}
      </tbody>
    </table>
  </section>`;
}

function backlogSection(base: string, b: Backlog): SafeHtml {
  const jobs = b.queue.jobs
    ? html`<dl class="inline">
        ${Object.entries(b.queue.jobs).map(
          ([k, n]) =>
            html`<dt>${k}</dt>
              <dd>${n}</dd>`,
        )}
      </dl>`
    : html`<p class="error">Queue unavailable: ${b.queue.error}</p>`;
  const oldest = b.oldestOpen
    ? html`<p>
        Oldest settlement in progress:
        <a href="${settlementHref(base, b.oldestOpen.id)}">${b.oldestOpen.id}</a> ${state(b.oldestOpen.state)}, claimed
        ${time(b.oldestOpen.since)} (${age(b.oldestOpen.ageSeconds)} ago)
      </p>`
    : html`<p>No settlement is in progress.</p>`;
  return html`<section id="backlog">
    <h2>Backlog</h2>
    <h3>Queue jobs</h3>
    ${jobs}${oldest}
  </section>`;
}

export function overviewPage(base: string, o: Overview): SafeHtml {
  return layout(
    { base, signedIn: true },
    "Overview",
    html`<h1>Overview</h1>
      ${searchForm(base)} ${outcomesSection(o.outcomes)} ${backlogSection(base, o.backlog)} ${relayersSection(o.relayers)}
      ${o.webhooks ? webhooksSection(base, o.webhooks) : ""}
      <section id="recent">
        <h2>Newest settlements</h2>
        ${settlementsTable(base, o.recent)}
      </section>`,
  );
}
