// The dashboard's only stylesheet, served from our own origin (the CSP allows no inline style).
export const STYLESHEET = `
:root { color-scheme: light dark; --muted: #6b7280; --line: #d1d5db; --bad: #b91c1c; --good: #047857; --warn: #b45309; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; }
header { display: flex; align-items: center; justify-content: space-between; padding: .6rem 1.2rem; border-bottom: 1px solid var(--line); }
header form { margin: 0; }
.brand { font-weight: 600; text-decoration: none; color: inherit; }
main { padding: 1rem 1.2rem 3rem; max-width: 110rem; }
h1 { font-size: 1.35rem; margin: .4rem 0 1rem; }
h2 { font-size: 1.1rem; margin: 1.6rem 0 .5rem; border-bottom: 1px solid var(--line); padding-bottom: .2rem; }
h3 { font-size: .95rem; margin: 1rem 0 .4rem; }
table { border-collapse: collapse; width: 100%; margin: .3rem 0 .8rem; }
th, td { text-align: left; padding: .25rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; white-space: nowrap; }
time { white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, monospace; word-break: break-all; }
tr.warn td { color: var(--warn); }
.error { color: var(--bad); }
.empty { color: var(--muted); }
.state { display: inline-block; padding: 0 .4rem; border-radius: .6rem; border: 1px solid currentColor; font-size: 12px; }
.state-confirmed, .state-delivered { color: var(--good); }
.state-failed, .state-rejected, .state-expired, .state-canceled, .state-needs_review, .state-disabled { color: var(--bad); }
dl.fields { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
dl.fields dt { font-weight: 600; }
dl.fields dd { margin: 0; }
dl.inline { display: flex; flex-wrap: wrap; gap: .2rem .4rem; margin: .2rem 0; }
dl.inline dt { font-weight: 600; }
dl.inline dt::after { content: ":"; }
dl.inline dd { margin: 0 1rem 0 0; }
form.search, form.login { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; margin: .5rem 0 1rem; }
form.login { flex-direction: column; align-items: flex-start; max-width: 24rem; }
form.search label { flex-basis: 100%; }
input[type=search] { min-width: 32rem; max-width: 100%; }
input, button { font: inherit; padding: .3rem .5rem; }
article.endpoint { margin-bottom: 1rem; }
`;
