// Small pieces the dashboard pages share: times, ages, hashes and the settlements table.
import type { SettlementResource } from "../../settle/present.js";
import { html, type SafeHtml } from "./html.js";

/** A UTC timestamp, readable, with the exact value in the datetime attribute. */
export const time = (iso: string | null): SafeHtml | string =>
  iso ? html`<time datetime="${iso}">${iso.replace("T", " ").replace(/\.\d+Z$/, "Z")}</time>` : "–";

export function age(seconds: number): string {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)} min`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
}

export const code = (s: string | null | undefined): SafeHtml | string => (s ? html`<code>${s}</code>` : "–");

export const state = (s: string): SafeHtml => html`<span class="state state-${s}">${s}</span>`;

export const settlementHref = (base: string, id: string) => `${base}/settlements/${encodeURIComponent(id)}`;

export function settlementsTable(base: string, items: SettlementResource[]): SafeHtml {
  if (!items.length) return html`<p class="empty">No settlements.</p>`;
  return html`<table class="settlements">
    <thead>
      <tr>
        <th>Created</th>
        <th>Settlement</th>
        <th>Network</th>
        <th>State</th>
        <th>Payer</th>
        <th>Pay to</th>
        <th>Amount</th>
        <th>Transaction</th>
        <th>Error</th>
      </tr>
    </thead>
    <tbody>
      ${items.map(
        (s) =>
          html`<tr>
            <td>${time(s.createdAt)}</td>
            <td><a href="${settlementHref(base, s.id)}">${s.id}</a></td>
            <td>${s.network}</td>
            <td>${state(s.state)}</td>
            <td>${code(s.payer)}</td>
            <td>${code(s.payTo)}</td>
            <td class="num">${s.chargedAmount}</td>
            <td>${code(s.transaction ?? s.latestTransaction)}</td>
            <td>${s.errorReason ?? ""}</td>
          </tr> `,
      )}
    </tbody>
  </table>`;
}
