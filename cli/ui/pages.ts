// Server-rendered HTML (hono/html escapes every interpolated value). Each page has one live region
// that the server re-renders and pushes over Server-Sent Events when the watch sees a change.
import { html, raw } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import { asks, brief } from '../../functions/kinds.ts';
import { ageOf, stateText, summarizeRequest } from '../lib/summary.ts';
import type { ConnectionOptions } from '../lib/cluster.ts';
import { DURATION_PATTERN } from './narrow.ts';
import type { Snapshot } from './source.ts';
import {
  approvalText,
  approvers,
  argv,
  badges,
  containerOf,
  find,
  hiddenPoliciesText,
  history,
  mine,
  queue,
  reasonOf,
  runCommand,
  unsureText,
  usesAllowed,
  usesText,
  type Row,
} from './views.ts';

type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

export interface PageContext {
  me: string;
  token: string;
  now: Date;
  /** The namespaces watched; undefined = all. */
  namespaces: readonly string[] | undefined;
  /** The kubeconfig flags the page was started with: the user's own commands carry them. */
  connection?: ConnectionOptions;
}

export type View = { page: 'queue' } | { page: 'history' } | { page: 'request'; namespace: string; name: string };

/** A link inside the page: the token travels in the query, as every request needs it. */
export function href(ctx: PageContext, path: string, query: Record<string, string> = {}): string {
  return `${path}?${new URLSearchParams({ ...query, token: ctx.token })}`;
}

function requestPath(row: Row): string {
  return `/requests/${encodeURIComponent(row.request.metadata.namespace)}/${encodeURIComponent(row.request.metadata.name)}`;
}

function argvCell(row: Row): Html {
  const command = argv(row.request);
  if (command) return html`<ol class="argv">${command.map((arg) => html`<li><code>${arg}</code></li>`)}</ol>`;
  if (row.request.spec.forObject.subResource === 'exec' && !row.request.spec.copyOptions) return html`<em>any command</em>`;
  return html`<code>${brief(row.request.spec)}</code>`;
}

function keysCell(row: Row): Html {
  const entries = Object.entries(row.request.spec.customKeys ?? {});
  if (entries.length === 0) return html`<span class="none">—</span>`;
  return html`<dl class="keys">${entries.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>`;
}

function windowText(row: Row): string {
  return row.request.spec.validFor ? row.request.spec.validFor : 'once';
}

function stateLabel(row: Row, now: Date): string {
  if (row.shown === row.state.state) return stateText(row.state, now);
  return row.shown.charAt(0).toUpperCase() + row.shown.slice(1);
}

/** The state; `caveat` adds what the page cannot know (where the user, or the requester, decides on it). */
function stateCell(row: Row, ctx: PageContext, caveat = false): Html {
  const unsure = caveat ? unsureText(row) : undefined;
  return html`<span class="state state-${row.shown}">${stateLabel(row, ctx.now)}</span>${unsure ? html`<span class="sub unsure">${unsure}</span>` : ''}`;
}

function badgeList(row: Row): Html {
  const list = badges(row);
  if (list.length === 0) return html``;
  return html`<span class="badges">${list.map((badge) => html`<span class="badge badge-${badge.kind}" data-badge="${badge.kind}">${badge.text}</span>`)}</span>`;
}

function hiddenNote(row: Row): Html {
  const hidden = hiddenPoliciesText(row);
  return hidden ? html`<span class="sub unsure">${hidden}</span>` : html``;
}

function approvalsCell(row: Row): Html {
  return html`<span data-testid="approvals">${approvalText(row) ?? '—'}</span>${hiddenNote(row)}${badgeList(row)}`;
}

/** Who decided: the approvers whose grants count, or the policy that pre-approved it. */
function decidedBy(row: Row, ctx: PageContext): Html {
  const state = row.state;
  if (state.state === 'granted' && state.policy) return html`AccessPolicy ${state.policy}`;
  if (state.state === 'denied') return html`${state.grant.spec.grantedBy.username}, ${ageOf(state.grant, ctx.now)} ago`;
  if ('grant' in state) {
    const by = state.grant.spec.grantedBy.username.startsWith('AccessPolicy/') ? [state.grant.spec.grantedBy.username.replace('/', ' ')] : approvers(row);
    return html`${by.length > 0 ? by.join(', ') : state.grant.spec.grantedBy.username}, ${ageOf(state.grant, ctx.now)} ago`;
  }
  return html`—`;
}

function queueTable(rows: readonly Row[], ctx: PageContext): Html {
  if (rows.length === 0) return html`<p class="empty" data-testid="queue-empty">No pending requests.</p>`;
  return html`<table class="requests" data-testid="queue">
    <thead><tr><th>who</th><th>namespace / pod</th><th>container</th><th>command (argv)</th><th>window</th><th>reason</th><th>custom keys</th><th>approvals</th><th>age</th><th></th></tr></thead>
    <tbody>${rows.map(
      (row) => html`<tr data-request="${row.request.metadata.namespace}/${row.request.metadata.name}">
        <td class="who">${row.request.spec.userInfo.username}</td>
        <td>${row.request.metadata.namespace} / <strong>${row.request.spec.forObject.name}</strong><div class="sub">${row.request.spec.forObject.subResource}</div></td>
        <td>${containerOf(row.request) ?? '—'}</td>
        <td>${argvCell(row)}</td>
        <td>${windowText(row)}</td>
        <td>${reasonOf(row.request) ?? html`<span class="none">—</span>`}</td>
        <td>${keysCell(row)}</td>
        <td>${approvalsCell(row)}</td>
        <td>${ageOf(row.request, ctx.now)}</td>
        <td><a class="button" href="${href(ctx, requestPath(row))}">Review</a></td>
      </tr>`,
    )}</tbody>
  </table>`;
}

function mineTable(rows: readonly Row[], ctx: PageContext): Html {
  if (rows.length === 0) return html`<p class="empty">You have no access requests. Ask with <code>kubectl request exec POD -- COMMAND</code>.</p>`;
  return html`<table class="requests" data-testid="mine">
    <thead><tr><th>request</th><th>pod</th><th>command (argv)</th><th>window</th><th>state</th><th>once granted, run</th></tr></thead>
    <tbody>${rows.map((row) => {
      const command = runCommand(row.request, ctx.connection);
      return html`<tr data-request="${row.request.metadata.namespace}/${row.request.metadata.name}">
        <td><a href="${href(ctx, requestPath(row))}">${row.request.metadata.name}</a></td>
        <td>${row.request.metadata.namespace} / ${row.request.spec.forObject.name}</td>
        <td>${argvCell(row)}</td>
        <td>${windowText(row)}</td>
        <td>${stateCell(row, ctx, true)}${'grant' in row.state && row.state.grant.spec.reason ? html`<div class="sub">${row.state.grant.spec.reason}</div>` : ''}${approvalText(row) ? html`<div class="sub">${approvalText(row)}</div>` : ''}${badgeList(row)}</td>
        <td>${command ? html`<code class="copy ${row.shown === 'granted' ? 'ready' : ''}">${command}</code>` : '—'}</td>
      </tr>`;
    })}</tbody>
  </table>`;
}

function historyTable(rows: readonly Row[], ctx: PageContext): Html {
  if (rows.length === 0) return html`<p class="empty">No decided requests (the cluster removes expired ones after a while).</p>`;
  return html`<table class="requests" data-testid="history">
    <thead><tr><th>state</th><th>who</th><th>namespace / pod</th><th>command (argv)</th><th>window</th><th>decided by</th><th>note</th><th>used</th></tr></thead>
    <tbody>${rows.map((row) => {
      const grant = 'grant' in row.state ? row.state.grant : undefined;
      return html`<tr data-request="${row.request.metadata.namespace}/${row.request.metadata.name}">
        <td>${stateCell(row, ctx)}${badgeList(row)}</td>
        <td>${row.request.spec.userInfo.username}</td>
        <td><a href="${href(ctx, requestPath(row))}">${row.request.metadata.namespace} / ${row.request.spec.forObject.name}</a></td>
        <td>${argvCell(row)}</td>
        <td>${windowText(row)}</td>
        <td>${decidedBy(row, ctx)}</td>
        <td>${grant?.spec.reason ?? '—'}</td>
        <td>${usesText(row) ?? '—'}</td>
      </tr>`;
    })}</tbody>
  </table>`;
}

/** The part of the request page that follows the watch: the summary and the decision. */
function requestLive(row: Row | undefined, view: { namespace: string; name: string }, ctx: PageContext): Html {
  if (!row) return html`<p class="empty" data-testid="gone">Access request ${view.namespace}/${view.name} is not there (any more): withdrawn, cleaned up, or not visible to you.</p>`;
  const grant = 'grant' in row.state ? row.state.grant : undefined;
  const own = row.request.spec.userInfo.username === ctx.me;
  const command = runCommand(row.request, own ? ctx.connection : {});
  const approvals = approvalText(row);
  return html`<h2>${row.request.spec.userInfo.username} asks to ${asks(row.request.spec)}</h2>
    <pre class="summary" data-testid="summary">${summarizeRequest(row.request, ctx.now)}</pre>
    <p>State: ${stateCell(row, ctx, true)}${grant ? html` — by ${decidedBy(row, ctx)}${grant.spec.reason ? html` (${grant.spec.reason})` : ''}` : ''} ${badgeList(row)}</p>
    ${approvals ? html`<p>Approvals: <span data-testid="approvals">${approvals}</span>${hiddenNote(row)}</p>` : ''}
    ${reasonOf(row.request) ? html`<p>Reason given: ${reasonOf(row.request)}</p>` : ''}
    ${command ? html`<p>Once granted, ${row.request.spec.userInfo.username} runs: <code class="copy">${command}</code></p>` : ''}`;
}

export function live(view: View, snapshot: Snapshot, ctx: PageContext): Html {
  switch (view.page) {
    case 'queue':
      return html`<section><h2>Pending <span class="count">${queue(snapshot, ctx.me, ctx.now).length}</span></h2>${queueTable(queue(snapshot, ctx.me, ctx.now), ctx)}</section>
        <section><h2>Your requests</h2>${mineTable(mine(snapshot, ctx.me, ctx.now), ctx)}</section>`;
    case 'history':
      return html`<section><h2>History</h2>${historyTable(history(snapshot, ctx.now), ctx)}</section>`;
    case 'request':
      return requestLive(find(snapshot, view.namespace, view.name, ctx.now), view, ctx);
  }
}

export interface Outcome {
  ok: boolean;
  title: string;
  /** What the cluster answered, as it is. */
  detail?: string;
  lines?: readonly string[];
}

function outcomeBox(outcome: Outcome | undefined): Html {
  if (!outcome) return html``;
  return html`<div class="outcome ${outcome.ok ? 'ok' : 'refused'}" role="status" data-testid="outcome">
    <strong>${outcome.title}</strong>
    ${outcome.detail ? html`<pre>${outcome.detail}</pre>` : ''}
    ${(outcome.lines ?? []).map((line) => html`<div><code class="copy">${line}</code></div>`)}
  </div>`;
}

/** The optional narrowing fields: only what the request leaves room to narrow. */
function narrowFields(row: Row): Html {
  const window = row.request.spec.validFor;
  const uses = usesAllowed(row.request);
  return html`${window ? html`<label>Shorter window (optional) <input name="validFor" data-testid="valid-for" pattern="${DURATION_PATTERN}" maxlength="32" placeholder="${window}" title="A duration such as 15m or 1h30m, at most ${window}" autocomplete="off" class="short"></label>` : ''}
      ${uses !== 1 ? html`<label>Fewer uses (optional) <input name="maxUses" data-testid="max-uses" type="number" min="1" ${uses ? html`max="${uses}"` : ''} step="1" placeholder="${uses ?? 'any'}" title="A whole number of at least 1${uses ? `, at most ${uses}` : ''}" class="short"></label>` : ''}`;
}

function decisionForms(row: Row | undefined, ctx: PageContext): Html {
  if (!row || row.shown !== 'pending') return html``;
  if (row.request.spec.userInfo.username === ctx.me) {
    return html`<p class="note">This is your own request: another approver decides on it. <code>kubectl request cancel -n ${row.request.metadata.namespace} ${row.request.metadata.name}</code> withdraws it.</p>`;
  }
  if (row.state.state === 'pending' && row.state.approvedBy.includes(ctx.me)) {
    return html`<p class="note decide" data-testid="approved-already">You approved this request; ${approvalText(row) ?? 'it needs more approvals'} from other approvers.</p>`;
  }
  const action = (verb: string) => href(ctx, `${requestPath(row)}/${verb}`);
  const hidden = html`<input type="hidden" name="csrf" value="${ctx.token}"><input type="hidden" name="uid" value="${row.request.metadata.uid}">`;
  return html`<div class="decide">
    <form method="post" action="${action('grant')}" class="grant">${hidden}
      <label>Note (optional) <input name="reason" maxlength="500" autocomplete="off"></label>
      ${narrowFields(row)}
      <button type="submit" class="grant" data-testid="grant">Grant</button>
    </form>
    <form method="post" action="${action('deny')}" class="deny">${hidden}
      <label>Reason for the requester <input name="reason" maxlength="500" required autocomplete="off"></label>
      <button type="submit" class="deny" data-testid="deny">Deny</button>
    </form>
  </div>`;
}

function viewParam(view: View): string {
  return view.page === 'request' ? `request:${view.namespace}/${view.name}` : view.page;
}

export function page(view: View, snapshot: Snapshot, ctx: PageContext, outcome?: Outcome): Html {
  const title = view.page === 'request' ? `${view.namespace}/${view.name}` : view.page === 'history' ? 'History' : 'Queue';
  const scope = ctx.namespaces ? `namespaces ${ctx.namespaces.join(', ')}` : 'all namespaces';
  const row = view.page === 'request' ? find(snapshot, view.namespace, view.name, ctx.now) : undefined;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · kubectl request ui</title>
<link rel="icon" href="${href(ctx, '/assets/icon.svg')}" type="image/svg+xml">
<link rel="stylesheet" href="${href(ctx, '/assets/ui.css')}">
<script src="${href(ctx, '/assets/ui.js')}" defer></script>
</head>
<body data-events="${href(ctx, '/events', { view: viewParam(view) })}">
<header>
  <h1>kube-request-access</h1>
  <nav>
    <a href="${href(ctx, '/')}" class="${view.page === 'queue' ? 'current' : ''}">Queue</a>
    <a href="${href(ctx, '/history')}" class="${view.page === 'history' ? 'current' : ''}">History</a>
  </nav>
  <p class="whoami">signed in to the cluster as <strong data-testid="me">${ctx.me}</strong> · ${scope} · <span id="connection" class="connection">connecting…</span></p>
</header>
<main>
  ${outcomeBox(outcome)}
  <div id="live">${live(view, snapshot, ctx)}</div>
  ${view.page === 'request' && !outcome?.ok ? decisionForms(row, ctx) : ''}
</main>
<footer>Every action is made with your kubeconfig credentials: RBAC and the admission webhook judge it as they judge <code>kubectl request</code>.</footer>
</body>
</html>`;
}

export function errorPage(status: number, message: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${status}</title></head><body><h1>${status}</h1><p>${message.replace(/[<&>"]/g, (c) => `&#${c.charCodeAt(0)};`)}</p></body></html>`;
}

export { raw };
