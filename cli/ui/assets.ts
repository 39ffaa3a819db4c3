// The page's only script and style sheet, served from the same origin (the CSP allows nothing else).
export const SCRIPT = `'use strict';
(function () {
  var status = document.getElementById('connection');
  var region = document.getElementById('live');
  var url = document.body.getAttribute('data-events');
  if (!url || !region || typeof EventSource === 'undefined') return;
  var source = new EventSource(url);
  source.addEventListener('open', function () { status.textContent = 'live'; status.className = 'connection live'; });
  source.addEventListener('error', function () { status.textContent = 'reconnecting…'; status.className = 'connection down'; });
  source.addEventListener('update', function (event) {
    region.innerHTML = event.data;
    // A request decided elsewhere: its buttons go.
    var decide = document.querySelector('.decide');
    if (decide && region.querySelector('.summary') && !region.querySelector('.state-pending')) decide.remove();
    if (decide && region.querySelector('[data-testid="gone"]')) decide.remove();
  });
})();
`;

export const STYLE = `
:root { --fg: #1d232a; --muted: #5d6b78; --line: #d8dee4; --bg: #f6f8fa; --accent: #0b61a4; --ok: #1a7f37; --bad: #b42318; --warn: #9a6700; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: #fff; }
header { padding: 12px 24px; border-bottom: 1px solid var(--line); background: var(--bg); display: flex; flex-wrap: wrap; align-items: baseline; gap: 8px 24px; }
header h1 { font-size: 16px; margin: 0; }
nav a { margin-right: 12px; color: var(--accent); text-decoration: none; font-weight: 600; }
nav a.current { color: var(--fg); border-bottom: 2px solid var(--accent); }
.whoami { margin: 0 0 0 auto; color: var(--muted); }
.connection.live { color: var(--ok); }
.connection.down { color: var(--bad); }
main { padding: 8px 24px 24px; }
h2 { font-size: 15px; margin: 20px 0 8px; }
.count { display: inline-block; min-width: 1.6em; padding: 0 6px; border-radius: 10px; background: var(--accent); color: #fff; text-align: center; font-size: 12px; }
table.requests { border-collapse: collapse; width: 100%; }
table.requests th, table.requests td { text-align: left; vertical-align: top; padding: 6px 8px; border-bottom: 1px solid var(--line); }
table.requests th { font-size: 12px; color: var(--muted); font-weight: 600; text-transform: uppercase; letter-spacing: .03em; }
.who { font-weight: 600; }
.sub { color: var(--muted); font-size: 12px; }
.none { color: var(--muted); }
ol.argv { margin: 0; padding: 0; list-style: none; display: flex; flex-wrap: wrap; gap: 4px; }
ol.argv li code, code { background: var(--bg); border: 1px solid var(--line); border-radius: 4px; padding: 0 4px; font: 12px/1.6 ui-monospace, SFMono-Regular, Menlo, monospace; white-space: pre-wrap; word-break: break-all; }
dl.keys { margin: 0; display: grid; grid-template-columns: auto 1fr; gap: 0 6px; }
dl.keys dt { color: var(--muted); }
dl.keys dd { margin: 0; }
.state { font-weight: 600; }
.state-pending { color: var(--warn); }
.state-granted { color: var(--ok); }
.state-denied, .state-invalid { color: var(--bad); }
.state-used, .state-expired { color: var(--muted); }
a.button, button { display: inline-block; padding: 4px 12px; border-radius: 6px; border: 1px solid var(--line); background: #fff; color: var(--accent); font: inherit; font-weight: 600; text-decoration: none; cursor: pointer; }
button.grant { background: var(--ok); border-color: var(--ok); color: #fff; }
button.deny { background: #fff; border-color: var(--bad); color: var(--bad); }
pre.summary { background: var(--bg); border: 1px solid var(--line); border-radius: 6px; padding: 12px; font: 13px/1.5 ui-monospace, SFMono-Regular, Menlo, monospace; overflow-x: auto; }
.decide { display: flex; flex-wrap: wrap; gap: 16px; margin-top: 12px; }
.decide form { display: flex; align-items: end; gap: 8px; padding: 12px; border: 1px solid var(--line); border-radius: 6px; }
.decide label { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); }
.decide input { margin-top: 2px; padding: 4px 6px; width: 18em; font: inherit; }
.decide input.short { width: 9em; }
.decide input:user-invalid { border-color: var(--bad); }
.badges { display: flex; flex-wrap: wrap; gap: 4px; margin-top: 4px; }
.badge { display: inline-block; padding: 0 6px; border-radius: 10px; font-size: 12px; font-weight: 600; border: 1px solid var(--line); color: var(--muted); background: var(--bg); }
.badge-break-glass, .badge-needs-review { color: #fff; background: var(--bad); border-color: var(--bad); }
.badge-reviewed { color: var(--ok); border-color: var(--ok); background: #eefbf0; }
.badge-pre-approved { color: var(--accent); border-color: var(--accent); }
.unsure { display: block; color: var(--warn); }
.outcome { margin: 12px 0; padding: 12px; border-radius: 6px; border: 1px solid; }
.outcome.ok { border-color: var(--ok); background: #eefbf0; }
.outcome.refused { border-color: var(--bad); background: #fdf0ef; }
.outcome pre { white-space: pre-wrap; margin: 6px 0 0; font: 13px/1.5 ui-monospace, SFMono-Regular, Menlo, monospace; }
.empty, .note { color: var(--muted); }
footer { padding: 12px 24px; color: var(--muted); border-top: 1px solid var(--line); font-size: 12px; }
`;

/** Served with the token like everything else, so the browser asks no tokenless /favicon.ico. */
export const ICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#0b61a4"/><path d="M4 8.5l2.5 2.5L12 5" stroke="#fff" stroke-width="2" fill="none"/></svg>`;
