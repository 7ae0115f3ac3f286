// Webhook endpoints on the overview with their failing deliveries, from the same read as
// GET /webhooks/failing-deliveries.
import { code, settlementHref, state, time } from "./fragments.js";
import { html, type SafeHtml } from "./html.js";
import type { WebhookStatus } from "./webhook-status.js";

export function webhooksSection(base: string, webhooks: WebhookStatus[]): SafeHtml {
  const endpoint = (w: WebhookStatus) =>
    html`<article class="endpoint">
      <h3>${code(w.url)} ${w.disabledAt ? html`<span class="state state-failed">disabled</span>` : ""}</h3>
      <dl class="inline">
        <dt>events</dt>
        <dd>${w.events?.join(", ") ?? "all"}</dd>
        <dt>payTo</dt>
        <dd>${w.payTo?.join(", ") ?? "any"}</dd>
        <dt>source</dt>
        <dd>${w.source}</dd>
        ${
          w.disabledAt
            ? html`<dt>disabled</dt>
                <dd>${time(w.disabledAt)} ${w.disabledReason ?? ""}</dd>`
            : ""
        }
      </dl>
      ${
        w.failingDeliveries.length
          ? html`<table>
              <thead>
                <tr>
                  <th>Delivery</th>
                  <th>Event</th>
                  <th>Settlement</th>
                  <th>State</th>
                  <th>Attempts</th>
                  <th>Last status</th>
                  <th>Last error</th>
                  <th>Next attempt</th>
                </tr>
              </thead>
              <tbody>
                ${w.failingDeliveries.map(
                  (d) =>
                    html`<tr>
                      <td>${d.id}</td>
                      <td>${d.type}</td>
                      <td><a href="${settlementHref(base, d.settlementId)}">${d.settlementId}</a></td>
                      <td>${state(d.state)}</td>
                      <td class="num">${d.attempts}</td>
                      <td>${d.lastStatus ?? "–"}</td>
                      <td>${d.lastError ?? ""}</td>
                      <td>${d.state === "pending" ? time(d.nextAttemptAt) : "–"}</td>
                    </tr>`,
                )}
              </tbody>
            </table>`
          : html`<p class="empty">No failing deliveries.</p>`
      }
    </article>`;
  return html`<section id="webhooks">
    <h2>Webhooks</h2>
    ${webhooks.length ? webhooks.map(endpoint) : html`<p class="empty">No webhook endpoints.</p>`}
  </section>`;
}
