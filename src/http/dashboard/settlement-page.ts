// One settlement: every field of its operator resource, then its history (state changes and the
// transactions signed for it), as GET /settlements/:id returns them.
import type { SettlementQueries } from "../../db/settlement-queries.js";
import type { SettlementResource } from "../../settle/present.js";
import { code, state, time } from "./fragments.js";
import { html, type SafeHtml } from "./html.js";
import { layout } from "./layout.js";

export type SettlementHistory = Awaited<ReturnType<SettlementQueries["history"]>>;

const field = (value: unknown): SafeHtml | string => {
  if (value === null || value === undefined) return "–";
  if (typeof value === "string" && /^0x[0-9a-fA-F]+$/.test(value)) return code(value);
  return String(value);
};

export function settlementPage(base: string, s: SettlementResource, [events, txs]: SettlementHistory): SafeHtml {
  return layout(
    { base, signedIn: true },
    `Settlement ${s.id}`,
    html`<p><a href="${base}">← Overview</a></p>
      <h1>Settlement <code>${s.id}</code> ${state(s.state)}</h1>
      <section id="fields">
        <h2>Fields</h2>
        <dl class="fields">
          ${Object.entries(s).map(
            ([k, v]) =>
              html`<dt>${k}</dt>
                <dd>${field(v)}</dd>`,
          )}
        </dl>
      </section>
      <section id="history">
        <h2>History</h2>
        <table class="events">
          <thead>
            <tr>
              <th>At</th>
              <th>From</th>
              <th>To</th>
              <th>Version</th>
              <th>Transaction</th>
              <th>Detail</th>
            </tr>
          </thead>
          <tbody>
            ${events.map(
              (e) =>
                html`<tr>
                  <td>${time(e.createdAt.toISOString())}</td>
                  <td>${e.fromState ? state(e.fromState) : "–"}</td>
                  <td>${state(e.toState)}</td>
                  <td class="num">${e.version}</td>
                  <td>${code(e.txHash)}</td>
                  <td>${e.detail == null ? "" : html`<code>${JSON.stringify(e.detail)}</code>`}</td>
                </tr>`,
            )}
          </tbody>
        </table>
        <h3>Transactions</h3>
        ${
          txs.length
            ? html`<table class="transactions">
                <thead>
                  <tr>
                    <th>At</th>
                    <th>Hash</th>
                    <th>Relayer</th>
                    <th>Relayer nonce</th>
                    <th>Max fee per gas</th>
                    <th>Max priority fee</th>
                    <th>Gas limit</th>
                  </tr>
                </thead>
                <tbody>
                  ${txs.map(
                    (t) =>
                      html`<tr>
                        <td>${time(t.createdAt.toISOString())}</td>
                        <td>${code(t.hash)}</td>
                        <td>${code(t.relayerAddress)}</td>
                        <td class="num">${t.relayerNonce.toString()}</td>
                        <td class="num">${t.maxFeePerGas}</td>
                        <td class="num">${t.maxPriorityFeePerGas}</td>
                        <td class="num">${t.gasLimit}</td>
                      </tr>`,
                  )}
                </tbody>
              </table>`
            : html`<p class="empty">No transaction was signed for it.</p>`
        }
      </section>`,
  );
}
