// The relayer lanes on the overview, from the same read as GET /relayers.
import { code } from "./fragments.js";
import { html, type SafeHtml } from "./html.js";
import type { RelayerStatus } from "./relayer-status.js";

export function relayersSection(relayers: RelayerStatus[]): SafeHtml {
  const rows = relayers.map(
    (r) => html`<tr${r.belowGasFloor ? html` class="warn"` : ""}>
<td>${r.networkName}</td><td>${code(r.address)}</td><td>${r.leased ? "yes" : "no"}</td>
<td class="num">${r.balanceEth ?? "–"}</td><td class="num">${r.inFlight}</td><td class="num">${r.nextNonce}</td>
<td class="num">${r.chainPendingNonce ?? "–"}</td><td class="num">${r.nonceLag ?? "–"}</td><td>${r.error ?? (r.belowGasFloor ? "below gas floor" : "")}</td>
</tr>`,
  );
  return html`<section id="relayers">
    <h2>Relayers</h2>
    ${
      relayers.length
        ? html`<table>
            <thead>
              <tr>
                <th>Network</th>
                <th>Address</th>
                <th>Worker</th>
                <th>Balance (ETH)</th>
                <th>In flight</th>
                <th>Next nonce</th>
                <th>Chain pending nonce</th>
                <th>Nonce lag</th>
                <th>Note</th>
              </tr>
            </thead>
            <tbody>
              ${rows}
            </tbody>
          </table>`
        : html`<p class="empty">No relayer has registered yet (is a worker running?).</p>`
    }
  </section>`;
}
