// The Hono shell, driven through app.request with reviews shaped as the kube-apiserver sends them.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { createApp, respond, type AdmissionResponseReview } from '../../adapters/http/app.ts';
import { MemoryCluster } from '../../adapters/memory/lookup.ts';
import { EffectConflict, type AuditSink, type EffectExecutor } from '../../adapters/ports.ts';
import { allow, deny, DEFAULT_CONFIG, type AuditEvent, type Lookup, type Validator } from '../../functions/types.ts';
import { accessGrant, accessRequest, execReview, NOW, objectReview, shellPorts, users } from '../support/builders.ts';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');

function setup(
  options: {
    objects?: unknown[];
    audit?: AuditSink[];
    lookup?: Partial<Lookup>;
    validate?: Validator['validateAccessRequest'];
    effects?: EffectExecutor;
  } = {},
) {
  const cluster = new MemoryCluster(options.objects ?? [accessRequest(), accessGrant()]);
  const events: AuditEvent[] = [];
  const recorder: AuditSink = { name: 'recorder', record: async (event) => void events.push(event) };
  const app = createApp({
    ...shellPorts(cluster, options),
    ...(options.effects ? { effects: options.effects } : {}),
    audit: [recorder, ...(options.audit ?? [])],
    config: { ...DEFAULT_CONFIG, alwaysAllowedGroups: ['kube-request-access:admins'] },
    clock: () => NOW,
    maxBodyBytes: 64 * 1024,
  });
  const post = (body: string | object, contentType = 'application/json') =>
    app.request('/', {
      method: 'POST',
      headers: { 'Content-Type': contentType },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const review = async (request: object) => {
    const res = await post({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request });
    assert.equal(res.status, 200);
    return ((await res.json()) as AdmissionResponseReview).response;
  };
  return { app, cluster, events, post, review };
}

describe('admission endpoint', () => {
  it('answers a recorded kube-apiserver exec review with an admission.k8s.io/v1 AdmissionReview echoing the uid', async () => {
    const { post } = setup({ objects: JSON.parse(fixture('objects.json')) });
    const res = await post(fixture('exec-review.json'));
    assert.equal(res.status, 200);
    const body = (await res.json()) as AdmissionResponseReview;
    assert.equal(body.apiVersion, 'admission.k8s.io/v1');
    assert.equal(body.kind, 'AdmissionReview');
    assert.equal(body.response.uid, '705ab4f5-6393-11e8-b7cc-42010a800002');
    assert.equal(body.response.allowed, true);
  });

  it('consumes a one-shot request: the replay is denied', async () => {
    const { review, cluster } = setup();
    assert.equal((await review(execReview())).allowed, true);
    assert.ok((await cluster.accessRequest('team-a', 'alice-web-0'))?.status?.usedAt, 'marked used');
    const replay = await review(execReview());
    assert.equal(replay.allowed, false);
    assert.equal(replay.status?.code, 403);
  });

  it('allows exactly one of two concurrent execs on a one-shot request', async () => {
    const { review } = setup();
    const results = await Promise.all([review(execReview({ uid: 'a' })), review(execReview({ uid: 'b' }))]);
    assert.deepEqual(results.map((r) => r.allowed).sort(), [false, true]);
  });

  it('turns an allowed exec into a denial when the one-shot was consumed elsewhere meanwhile', async () => {
    const raced: EffectExecutor = {
      run: async () => {
        throw new EffectConflict('deleted by another replica');
      },
    };
    const { review, events } = setup({ effects: raced });
    const response = await review(execReview());
    assert.equal(response.allowed, false);
    assert.match(response.status!.message, /used by another connection at the same moment/);
    assert.equal(events[0]?.type === 'audit-exec' && events[0].data.isAllowed, false, 'audited as denied');
  });

  it('consumes nothing on a dry run', async () => {
    const { review, cluster } = setup();
    assert.equal((await review(execReview({ dryRun: true }))).allowed, true);
    assert.ok(await cluster.accessRequest('team-a', 'alice-web-0'), 'the request is still there');
    assert.equal((await review(execReview())).allowed, true);
  });

  it('sends nothing of a dry-run grant to the audit webhook; the audit log records it as a dry run', async () => {
    const sent: AuditEvent[] = [];
    const logged: AuditEvent[] = [];
    const cluster = new MemoryCluster([accessRequest()]);
    const app = createApp({
      ...shellPorts(cluster),
      audit: [{ name: 'audit webhook', record: async (event) => void sent.push(event) }],
      auditLog: { name: 'log', record: async (event) => void logged.push(event) },
      config: DEFAULT_CONFIG,
      clock: () => NOW,
    });
    const grantReview = (dryRun: boolean) => ({
      ...objectReview(accessGrant(), { user: users.carol, dryRun }),
      uid: `u-${dryRun}`,
    });
    const res = await app.request('/', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: grantReview(true) }),
    });
    assert.equal(((await res.json()) as AdmissionResponseReview).response.allowed, true);
    assert.deepEqual(sent, [], 'the audit webhook must not hear of a dry run');
    assert.deepEqual(
      logged.map((e) => [e.type, e.data.request.dryRun]),
      [['audit-granted', true]],
    );
    // The same grant for real does reach it.
    await app.request('/', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: grantReview(false) }),
    });
    assert.deepEqual(
      (sent as AuditEvent[]).map((e) => e.type),
      ['audit-granted'],
    );
  });

  it('audits every decision, allowed or denied', async () => {
    const { review, events } = setup();
    await review(execReview());
    await review(execReview({ command: ['id'] }));
    assert.deepEqual(
      events.map((e) => e.type === 'audit-exec' && e.data.isAllowed),
      [true, false],
    );
  });

  it('denies when an audit sink fails, so nothing unaudited gets through', async () => {
    const failing: AuditSink = {
      name: 'down',
      record: async () => {
        throw new Error('connect ECONNREFUSED');
      },
    };
    const { review } = setup({ audit: [failing] });
    const response = await review(execReview());
    assert.equal(response.allowed, false);
    assert.equal(response.status?.code, 500);
    assert.match(response.status!.message, /audit webhook did not accept/);
  });

  it('gives a one-shot request back when the audit webhook refuses, and tells it nothing allowed', async () => {
    let failures = 1;
    const told: boolean[] = [];
    const flaky: AuditSink = {
      name: 'flaky',
      record: async (event) => {
        if (event.type === 'audit-exec') told.push(event.data.isAllowed);
        if (failures-- > 0) throw new Error('HTTP 503');
      },
    };
    const logged: AuditEvent[] = [];
    const cluster = new MemoryCluster([accessRequest(), accessGrant()]);
    const app = createApp({
      ...shellPorts(cluster),
      audit: [flaky],
      auditLog: { name: 'log', record: async (event) => void logged.push(event) },
      config: DEFAULT_CONFIG,
      clock: () => NOW,
    });
    const post = async () =>
      (
        (await (
          await app.request('/', {
            method: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: execReview() }),
          })
        ).json()) as AdmissionResponseReview
      ).response;
    const first = await post();
    assert.equal(first.allowed, false);
    assert.match(first.status!.message, /audit webhook did not accept/);
    assert.equal(
      (await cluster.accessRequest('team-a', 'alice-web-0'))?.status?.usedAt,
      undefined,
      'given back, not used up',
    );
    assert.deepEqual(
      logged.map((e) => e.type === 'audit-exec' && e.data.isAllowed),
      [false],
      'the log has the final verdict only',
    );
    // The webhook is back: the same exec goes through once, then the request is used.
    assert.equal((await post()).allowed, true);
    assert.equal((await post()).allowed, false);
    assert.deepEqual(told, [true, true, false], 'the refused delivery, the accepted one, the replay');
  });

  it('refuses before using anything when the audit log cannot take a line', async () => {
    const cluster = new MemoryCluster([accessRequest(), accessGrant()]);
    const sent: AuditEvent[] = [];
    const app = createApp({
      ...shellPorts(cluster),
      audit: [{ name: 'webhook', record: async (event) => void sent.push(event) }],
      auditLog: { name: 'log', record: async () => {}, problem: () => 'its reader is not keeping up' },
      config: DEFAULT_CONFIG,
      clock: () => NOW,
    });
    const res = await app.request('/', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: execReview() }),
    });
    const response = ((await res.json()) as AdmissionResponseReview).response;
    assert.equal(response.allowed, false);
    assert.match(response.status!.message, /audit log cannot take this decision \(its reader is not keeping up\)/);
    assert.equal((await cluster.accessRequest('team-a', 'alice-web-0'))?.status?.usedAt, undefined);
    assert.deepEqual(sent, []);
  });

  it('writes the final verdict to the audit log after a failed audit webhook', async () => {
    const failing: AuditSink = {
      name: 'down',
      record: async () => {
        throw new Error('HTTP 500');
      },
    };
    const logged: AuditEvent[] = [];
    const cluster = new MemoryCluster([accessRequest({ validFor: '1h' }), accessGrant()]);
    const app = createApp({
      ...shellPorts(cluster),
      audit: [failing],
      auditLog: { name: 'log', record: async (event) => void logged.push(event) },
      config: DEFAULT_CONFIG,
      clock: () => NOW,
    });
    const res = await app.request('/', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: execReview() }),
    });
    assert.equal(((await res.json()) as AdmissionResponseReview).response.allowed, false);
    assert.equal(logged.length, 1);
    assert.equal(logged[0]!.type === 'audit-exec' && logged[0]!.data.isAllowed, false);
  });

  it('denies with a safe message when the lookup throws', async () => {
    const { review } = setup({
      lookup: {
        accessRequestsFor: async () => {
          throw new Error('secret internal detail');
        },
      },
    });
    const response = await review(execReview());
    assert.equal(response.allowed, false);
    assert.equal(response.status?.code, 500);
    assert.doesNotMatch(response.status!.message, /secret internal detail/);
    assert.match(response.status!.message, /internal error/);
  });

  it('denies an AccessRequest when the validator throws (fail closed)', async () => {
    const { review } = setup({
      validate: async () => {
        throw new Error('timeout');
      },
    });
    const object = accessRequest({ name: 'new' });
    const response = await review({
      uid: 'u-1',
      kind: { group: 'kube-request-access.io', version: 'v1', kind: 'AccessRequest' },
      resource: { group: 'kube-request-access.io', version: 'v1', resource: 'accessrequests' },
      namespace: 'team-a',
      name: 'new',
      operation: 'CREATE',
      userInfo: { username: 'alice' },
      object,
    });
    assert.equal(response.allowed, false);
    assert.equal(response.status?.code, 500);
  });

  it('serves /healthz, /readyz and /metrics', async () => {
    const { app, review } = setup();
    await review(execReview());
    assert.equal((await app.request('/healthz')).status, 200);
    assert.equal((await app.request('/readyz')).status, 200);
    const metrics = await (await app.request('/metrics')).text();
    assert.match(metrics, /kube_request_access_reviews_total\{concern="\/pods\/exec",verdict="allowed"\} 1/);
  });

  it('logs one line, and answers 500, when the request fails outside a review (a client gone mid-body)', async () => {
    const lines: [string, Record<string, unknown> | undefined][] = [];
    const log = (msg: string, fields?: Record<string, unknown>) => void lines.push([msg, fields]);
    const app = createApp({
      lookup: {} as Lookup,
      effects: { run: async () => undefined },
      audit: [],
      config: DEFAULT_CONFIG,
      logger: { debug: log, info: log, warn: log, error: log },
    });
    const body = new ReadableStream({ pull: (controller) => controller.error(new Error('the client went away')) });
    const res = await app.request('/', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body,
      duplex: 'half',
    } as RequestInit);
    assert.equal(res.status, 500);
    assert.deepEqual(
      lines.map(([msg]) => msg),
      ['request failed'],
    );
    assert.match(String((lines[0]![1]!.error as Error).message), /the client went away/);
  });

  it('reports not ready until the caches have synced', async () => {
    let ready = false;
    const app = createApp({
      lookup: {} as Lookup,
      effects: { run: async () => undefined },
      audit: [],
      config: DEFAULT_CONFIG,
      isReady: () => ready,
    });
    assert.equal((await app.request('/readyz')).status, 503);
    ready = true;
    assert.equal((await app.request('/readyz')).status, 200);
  });
});

describe('bad input is never allowed and always explained', () => {
  const valid = () => ({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: execReview() });
  const withRequest = (patch: Record<string, unknown>) => {
    const body = valid();
    return { ...body, request: { ...body.request, ...patch } };
  };
  const http400: Array<[string, string | object, string?, RegExp?]> = [
    ['an empty body', '', undefined, /not valid JSON/],
    ['a body that is not JSON', '{"apiVersion":', undefined, /not valid JSON/],
    [
      'admission.k8s.io/v1beta1',
      { ...valid(), apiVersion: 'admission.k8s.io/v1beta1' },
      undefined,
      /admissionReviewVersions: \[v1\]/,
    ],
    ['no request at all', { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }, undefined, /request/],
    [
      'a missing uid',
      (() => {
        const b = valid();
        const { uid: _uid, ...rest } = b.request;
        return { ...b, request: rest };
      })(),
      undefined,
      /uid/,
    ],
    ['JSON null', 'null', undefined, /unsupported AdmissionReview version/],
  ];
  for (const [name, body, contentType, message] of http400) {
    it(`answers HTTP 400 to ${name}`, async () => {
      const { post } = setup();
      const res = await post(body, contentType);
      assert.equal(res.status, 400);
      if (message) assert.match(await res.text(), message);
    });
  }

  it('answers 415 to a wrong content type', async () => {
    const { post } = setup();
    const res = await post(valid(), 'text/plain');
    assert.equal(res.status, 415);
    assert.match(await res.text(), /Content-Type must be application\/json/);
  });

  it('answers 413 to a body over the cap', async () => {
    const { post } = setup();
    const big = withRequest({ object: { command: ['x'.repeat(100 * 1024)] } });
    const res = await post(big);
    assert.equal(res.status, 413);
  });

  const denials: Array<[string, Record<string, unknown>, RegExp]> = [
    ['missing userInfo', { userInfo: undefined }, /userInfo/],
    ['a userInfo without username', { userInfo: { groups: ['x'] } }, /userInfo.username/],
    ['missing object', { object: null }, /PodExecOptions/],
    ['an unknown subresource', { subResource: 'proxy' }, /does not review \/pods\/proxy/],
    [
      'an unknown resource',
      { resource: { group: 'apps', version: 'v1', resource: 'deployments' }, subResource: '' },
      /does not review apps\/deployments/,
    ],
    ['an unknown operation', { operation: 'PATCH' }, /operation/],
  ];
  for (const [name, patch, message] of denials) {
    it(`denies ${name} with the uid echoed`, async () => {
      const { post } = setup();
      const res = await post(withRequest(patch));
      assert.equal(res.status, 200);
      const body = (await res.json()) as AdmissionResponseReview;
      assert.equal(body.response.uid, 'e1b2c3d4-0000-4000-8000-000000000001');
      assert.equal(body.response.allowed, false);
      assert.match(body.response.status!.message, message);
    });
  }
});

describe('the AdmissionResponse', () => {
  it('keeps only audit annotation keys the apiserver accepts (lowercase DNS labels), and none when none is valid', () => {
    const annotations = { 'access-request': 'ns/r', 'Bad/Key': 'x', ['a'.repeat(64)]: 'y', '-dash': 'z' };
    const kept = respond('u1', allow('ok', { auditAnnotations: annotations }));
    assert.deepEqual(kept.response.auditAnnotations, { 'access-request': 'ns/r' });
    const none = respond('u1', allow('ok', { auditAnnotations: { 'Not.Valid': 'x' } }));
    assert.equal('auditAnnotations' in none.response, false);
  });

  it('says Success for an allowed review and names the reason of a denied one by its code', () => {
    assert.deepEqual(respond('u1', allow('ok')).response.status, { code: 200, message: 'ok', status: 'Success' });
    for (const [code, reason] of [
      [400, 'BadRequest'],
      [403, 'Forbidden'],
      [500, 'InternalError'],
    ] as const) {
      const response = respond('u2', deny('no', code)).response;
      assert.equal(response.allowed, false);
      assert.deepEqual(response.status, { code, message: 'no', status: 'Failure', reason });
    }
  });
});
