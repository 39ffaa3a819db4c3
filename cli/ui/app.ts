// The Hono app behind `kubectl request ui`. Protected like kubectl proxy's peers: loopback only
// (server.ts), the Host header must name the loopback address (no DNS rebinding), a random token in
// every URL (403 without it), POSTs only from the page's own origin and with the token in the form,
// and a Content-Security-Policy that allows only this origin's script and style sheet.
import { timingSafeEqual } from 'node:crypto';
import { Hono, type Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { AccessGrant, AccessRequest, GrantStatus } from '../../functions/schemas.ts';
import type { AccessGrantBody, Cluster, ConnectionOptions } from '../lib/cluster.ts';
import { explainError } from '../lib/errors.ts';
import { buildGrant, kubectlCommand } from '../lib/requests.ts';
import { ICON, SCRIPT, STYLE } from './assets.ts';
import { accessText, readNarrowing, type Narrowing } from './narrow.ts';
import { errorPage, live, page, type Outcome, type PageContext, type View } from './pages.ts';
import type { Source } from './source.ts';
import { approvalText, rowFor } from './views.ts';

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

export interface UiOptions {
  /** The user's cluster: the page reads and grants with their credentials, nothing else. */
  cluster: Pick<Cluster, 'getAccessRequest' | 'createAccessGrant'>;
  source: Source;
  /** Who the cluster says the user is (SelfSubjectReview). */
  me: string;
  token: string;
  /** The origins the page is served from (`http://127.0.0.1:PORT`); known once the server listens. */
  origins: () => readonly string[];
  /** The kubeconfig flags the command was given: the user's own `kubectl exec` lines carry them. */
  connection?: ConnectionOptions;
  now?: () => Date;
  /** How long to gather watch events before pushing one update (ms). */
  debounceMs?: number;
}

function sameSecret(given: string | undefined, token: string): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function parseView(text: string | undefined): View | undefined {
  if (text === 'queue' || text === 'history') return { page: text };
  const match = /^request:([^/]+)\/([^/]+)$/.exec(text ?? '');
  return match ? { page: 'request', namespace: match[1]!, name: match[2]! } : undefined;
}

/** An API error as the cluster said it: HTTP code and the Status message, unchanged. */
function apiAnswer(error: unknown): { code: number; message: string } {
  const code = (error as { code?: unknown }).code;
  let body = (error as { body?: unknown }).body;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      // plain text
    }
  }
  const message =
    body && typeof body === 'object' && typeof (body as { message?: unknown }).message === 'string'
      ? (body as { message: string }).message
      : typeof body === 'string' && body
        ? body
        : error instanceof Error
          ? error.message
          : String(error);
  return { code: typeof code === 'number' ? code : 500, message };
}

export function uiApp(options: UiOptions): Hono {
  const { cluster, source, me, token } = options;
  const now = options.now ?? (() => new Date());
  const context = (): PageContext => ({
    me,
    token,
    now: now(),
    namespaces: source.namespaces,
    ...(options.connection ? { connection: options.connection } : {}),
  });
  const app = new Hono();

  app.use('*', async (c, next) => {
    c.header('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    c.header('X-Content-Type-Options', 'nosniff');
    c.header('X-Frame-Options', 'DENY');
    // The token never leaves in a Referer to another origin; same-origin keeps the Origin header on
    // the page's own POSTs (with no-referrer, Chromium sends `Origin: null`).
    c.header('Referrer-Policy', 'same-origin');
    c.header('Cache-Control', 'no-store');
    c.header('Cross-Origin-Opener-Policy', 'same-origin');
    c.header('Cross-Origin-Resource-Policy', 'same-origin');
    const origins = options.origins();
    const hosts = origins.map((origin) => new URL(origin).host);
    const host = c.req.header('host');
    if (!host || !hosts.includes(host)) return c.html(errorPage(403, 'wrong Host header: open the URL kubectl request ui printed'), 403);
    if (!sameSecret(c.req.query('token'), token)) {
      return c.html(errorPage(403, 'missing or wrong token: open the URL kubectl request ui printed'), 403);
    }
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') {
      const origin = c.req.header('origin');
      const site = c.req.header('sec-fetch-site');
      const sameOrigin = origin ? origins.includes(origin) : site === 'same-origin';
      if (!sameOrigin || (site !== undefined && site !== 'same-origin')) {
        return c.html(errorPage(403, 'cross-site request refused'), 403);
      }
    }
    await next();
  });

  app.get('/assets/ui.js', (c) => c.body(SCRIPT, 200, { 'Content-Type': 'text/javascript; charset=utf-8' }));
  app.get('/assets/icon.svg', (c) => c.body(ICON, 200, { 'Content-Type': 'image/svg+xml' }));
  app.get('/assets/ui.css', (c) => c.body(STYLE, 200, { 'Content-Type': 'text/css; charset=utf-8' }));

  app.get('/', (c) => c.html(page({ page: 'queue' }, source.snapshot(), context())));
  app.get('/history', (c) => c.html(page({ page: 'history' }, source.snapshot(), context())));
  app.get('/requests/:namespace/:name', (c) => {
    const view: View = { page: 'request', namespace: c.req.param('namespace'), name: c.req.param('name') };
    return c.html(page(view, source.snapshot(), context()));
  });

  const decide = (status: GrantStatus) => async (c: Context) => {
    const view = { page: 'request' as const, namespace: c.req.param('namespace')!, name: c.req.param('name')! };
    const form = await c.req.parseBody();
    if (!sameSecret(typeof form.csrf === 'string' ? form.csrf : undefined, token)) {
      return c.html(errorPage(403, 'the form has no valid token: reload the page'), 403);
    }
    const reason = typeof form.reason === 'string' ? form.reason.trim() : '';
    const uid = typeof form.uid === 'string' ? form.uid : '';
    const verb = status === 'granted' ? 'grant' : 'deny';
    const show = (outcome: Outcome, code: number) => c.html(page(view, source.snapshot(), context(), outcome), code as 200);
    if (status === 'denied' && !reason) {
      return show({ ok: false, title: 'Give a reason: the requester sees it.' }, 400);
    }
    const where = { requestName: view.name, namespace: view.namespace };
    const refused = (error: unknown) => {
      const answer = apiAnswer(error);
      const explained = explainError(error, { action: `${verb} ${view.name}`, ...where });
      return show(
        { ok: false, title: `Refused: ${explained.message}`, detail: `HTTP ${answer.code}: ${answer.message}` },
        answer.code >= 400 && answer.code < 600 ? answer.code : 500,
      );
    };
    let request: AccessRequest;
    try {
      request = await cluster.getAccessRequest(view.namespace, view.name);
    } catch (error) {
      return refused(error);
    }
    let narrowing: Narrowing = {};
    if (status === 'granted') {
      const read = readNarrowing({ validFor: form.validFor, maxUses: form.maxUses }, request);
      if (!read.ok) return show({ ok: false, title: `Not granted: ${read.problem}` }, 400);
      narrowing = read.narrowing;
    }
    // Pinned to the object the approver looked at: a request re-created since then is refused (409).
    const seen = uid ? { ...request, metadata: { ...request.metadata, uid } } : request;
    const snapshot = source.snapshot();
    const body: AccessGrantBody = buildGrant({
      request: seen,
      granter: me,
      status,
      ...(reason ? { reason } : {}),
      // A policy that wants several approvals: the first approver's grant already has the plain name.
      second: snapshot.grants.some(
        (grant) =>
          grant.metadata.namespace === view.namespace &&
          grant.spec.grantFor === view.name &&
          grant.spec.grantForUID === seen.metadata.uid,
      ),
    });
    let created: AccessGrant;
    try {
      // The narrowed fields (spec.validFor, spec.maxUses) on top of the CLI's grant.
      const grant = body as { spec: object };
      created = await cluster.createAccessGrant(view.namespace, { ...grant, spec: { ...grant.spec, ...narrowing } });
    } catch (error) {
      return refused(error);
    }
    if (status === 'denied') return show({ ok: true, title: `Denied ${view.name} (reason: ${reason})` }, 200);
    const stamped = { ...created, metadata: { ...created.metadata, creationTimestamp: created.metadata?.creationTimestamp ?? now().toISOString() } };
    const after = rowFor(seen, { ...snapshot, grants: [...snapshot.grants, stamped] }, now());
    if (after.state.state === 'pending') {
      return show(
        { ok: true, title: `Approved ${view.name}: ${approvalText(after)} before ${request.spec.userInfo.username} may run it.` },
        200,
      );
    }
    const command = kubectlCommand(request);
    return show(
      {
        ok: true,
        title: `Granted ${view.name}: ${request.spec.userInfo.username} may now run (${accessText(request, narrowing)}):`,
        lines: command ? [command] : [],
        // The webhook knows; the page does not.
        ...(after.policiesKnown
          ? {}
          : { detail: `The AccessPolicies of ${view.namespace} are not visible to you: it may need more approvals.` }),
      },
      200,
    );
  };
  app.post('/requests/:namespace/:name/grant', decide('granted'));
  app.post('/requests/:namespace/:name/deny', decide('denied'));

  app.get('/events', (c) => {
    const view = parseView(c.req.query('view'));
    if (!view) return c.text('unknown view', 400);
    return streamSSE(c, async (stream) => {
      let timer: NodeJS.Timeout | undefined;
      const push = async () => {
        await stream.writeSSE({ event: 'update', data: String(await live(view, source.snapshot(), context())) });
      };
      const unsubscribe = source.subscribe(() => {
        clearTimeout(timer);
        timer = setTimeout(() => void push().catch(() => {}), options.debounceMs ?? 50);
      });
      const ping = setInterval(() => void stream.writeSSE({ event: 'ping', data: '' }).catch(() => {}), 25_000);
      try {
        // What changed between the page load and this connection.
        await push();
        await new Promise<void>((resolve) => stream.onAbort(resolve));
      } finally {
        unsubscribe();
        clearTimeout(timer);
        clearInterval(ping);
      }
    });
  });

  app.notFound((c) => c.html(errorPage(404, 'no such page'), 404));
  return app;
}
