// The page shell and the login form. No script and no inline style anywhere: the CSP forbids both.
import { html, type SafeHtml } from "./html.js";

export interface PageContext {
  /** Where the dashboard is mounted, basePath included (e.g. /facilitator/dashboard). */
  base: string;
  signedIn: boolean;
}

export function layout(ctx: PageContext, title: string, body: SafeHtml): SafeHtml {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${title} · x402 facilitator</title>
        <link rel="stylesheet" href="${ctx.base}/style.css" />
      </head>
      <body>
        <header>
          <a class="brand" href="${ctx.base}">x402 facilitator</a>
          ${ctx.signedIn ? html`<form method="post" action="${ctx.base}/logout"><button type="submit">Log out</button></form>` : ""}
        </header>
        <main>${body}</main>
      </body>
    </html> `;
}

export function loginPage(base: string, o: { error?: string; next?: string } = {}): SafeHtml {
  return layout(
    { base, signedIn: false },
    "Log in",
    html`<h1>Operator dashboard</h1>
      <form class="login" method="post" action="${base}/login">
        ${o.error ? html`<p class="error" role="alert">${o.error}</p>` : ""}
        <label for="key">Admin API key</label>
        <input id="key" name="key" type="password" autocomplete="current-password" required />
        ${o.next ? html`<input type="hidden" name="next" value="${o.next}" />` : ""}
        <button type="submit">Log in</button>
      </form>`,
  );
}

/** A page with one sentence on it (not found, bad request). */
export function messagePage(base: string, title: string, text: string): SafeHtml {
  return layout(
    { base, signedIn: true },
    title,
    html`<p><a href="${base}">← Overview</a></p>
      <h1>${title}</h1>
      <p>${text}</p>`,
  );
}
