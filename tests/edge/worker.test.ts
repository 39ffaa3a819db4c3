// Unit tests of the edge adapter with stand-in fetch functions (no runtime, no cluster): bindings,
// the admission token, the fetch-based lookup's requests, consume preconditions, and the audit and
// validation webhooks over fetchTransport failing closed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EffectConflict } from '../../adapters/ports.ts';
import { silentLogger } from '../../adapters/log.ts';
import {
  createEdgeWorker,
  edgeSettings,
  fetchEffects,
  fetchLookup,
  kubernetesClient,
} from '../../adapters/edge/index.ts';
import { execReview } from './scenario.ts';

type Call = { url: URL; method: string; headers: Headers; body?: string };

/** A fetch answering from `route`, recording every call. */
function fakeFetch(route: (call: Call) => { status: number; body?: unknown }) {
  const calls: Call[] = [];
  const fn: typeof fetch = async (input, init) => {
    const call: Call = {
      url: new URL(String(input)),
      method: init?.method ?? 'GET',
      headers: new Headers(init?.headers),
      ...(typeof init?.body === 'string' ? { body: init.body } : {}),
    };
    calls.push(call);
    const { status, body } = route(call);
    return new Response(body === undefined ? null : JSON.stringify(body), { status });
  };
  return { fn, calls };
}

/** The API server as far as these tests need it: it says who the worker is, and lists nothing. */
const apiServer = () =>
  fakeFetch((call) =>
    call.url.pathname.endsWith('/selfsubjectreviews')
      ? { status: 201, body: { status: { userInfo: { username: 'system:serviceaccount:kra:edge' } } } }
      : { status: 200, body: { items: [] } },
  ).fn;

const ENV = {
  KUBERNETES_API_URL: 'https://k8s.example.com',
  KUBERNETES_TOKEN: 'sa-token',
  ALWAYS_ALLOWED_GROUPS: 'system:masters',
};

function post(review: unknown, token?: string): Request {
  return new Request('https://webhook.example.com/', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(review),
  });
}

describe('edge settings', () => {
  it('names a missing binding', () => {
    assert.throws(() => edgeSettings({ KUBERNETES_API_URL: 'https://k8s.example.com' }), /KUBERNETES_TOKEN is missing/);
  });

  it('refuses plain http to anything but loopback', () => {
    assert.throws(
      () => edgeSettings({ ...ENV, KUBERNETES_API_URL: 'http://k8s.example.com' }),
      /must be an https: URL/,
    );
    assert.equal(
      edgeSettings({ ...ENV, KUBERNETES_API_URL: 'http://127.0.0.1:8001' }).apiServer.host,
      '127.0.0.1:8001',
    );
  });

  it('reads lists and durations', () => {
    const settings = edgeSettings({
      ...ENV,
      ALWAYS_ALLOWED_USERS: 'root, ops',
      MAX_VALID_FOR: '2h',
      NAMESPACES: 'a,b',
    });
    assert.deepEqual(settings.config.alwaysAllowedUsers, ['root', 'ops']);
    assert.equal(settings.config.maxValidForMs, 7_200_000);
    assert.deepEqual(settings.namespaces, ['a', 'b']);
    assert.throws(
      () => edgeSettings({ ...ENV, WEBHOOK_TIMEOUT: 'soon' }),
      /WEBHOOK_TIMEOUT="soon" is not a positive duration/,
    );
  });
});

describe('edge worker', () => {
  it('answers 500 naming the problem when misconfigured, so the apiserver fails closed', async () => {
    const worker = createEdgeWorker({ write: () => {} });
    const res = await worker.fetch(post(execReview('u1', 'admin', 'p', ['sh'])), {
      KUBERNETES_API_URL: 'https://k8s.example.com',
    });
    assert.equal(res.status, 500);
    assert.match(await res.text(), /KUBERNETES_TOKEN is missing/);
  });

  it('requires the admission token when one is configured', async () => {
    const worker = createEdgeWorker({ kubernetesFetch: apiServer, write: () => {} });
    const env = { ...ENV, ADMISSION_TOKEN: 's3cret' };
    assert.equal((await worker.fetch(post(execReview('u1', 'admin', 'p', ['sh'])), env)).status, 401);
    assert.equal((await worker.fetch(post(execReview('u1', 'admin', 'p', ['sh']), 's3cre7'), env)).status, 401);
    const ok = await worker.fetch(post(execReview('u1', 'admin', 'p', ['sh']), 's3cret'), env);
    assert.equal(ok.status, 200);
    assert.equal(((await ok.json()) as { response: { allowed: boolean } }).response.allowed, true);
  });

  it('sends audit events over fetch and denies when the audit webhook fails', async () => {
    let status = 200;
    const audit = fakeFetch(() => ({ status }));
    const worker = createEdgeWorker({ kubernetesFetch: apiServer, webhookFetch: () => audit.fn, write: () => {} });
    const env = { ...ENV, AUDIT_WEBHOOK_URL: 'https://audit.example.com/events' };
    const allowed = (await (await worker.fetch(post(execReview('u1', 'admin', 'p', ['sh'])), env)).json()) as {
      response: { allowed: boolean };
    };
    assert.equal(allowed.response.allowed, true);
    assert.equal(audit.calls[0]?.url.toString(), 'https://audit.example.com/events?type=audit-exec');
    assert.equal(JSON.parse(audit.calls[0]!.body!).isAdmin, true);
    status = 503;
    const denied = (await (await worker.fetch(post(execReview('u2', 'admin', 'p', ['sh'])), env)).json()) as {
      response: { allowed: boolean; status: { message: string } };
    };
    assert.equal(denied.response.allowed, false);
    assert.match(denied.response.status.message, /audit webhook did not accept/);
  });

  it('denies an AccessRequest when the validation webhook cannot be asked', async () => {
    const worker = createEdgeWorker({
      kubernetesFetch: apiServer,
      webhookFetch: () => fakeFetch(() => ({ status: 500 })).fn,
      write: () => {},
    });
    const env = { ...ENV, EXTENDED_VALIDATION_WEBHOOK_URL: 'https://validate.example.com/' };
    const review = {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: 'u3',
        kind: { group: 'kube-request-access.io', version: 'v1', kind: 'AccessRequest' },
        resource: { group: 'kube-request-access.io', version: 'v1', resource: 'accessrequests' },
        name: 'r',
        namespace: 'team-a',
        operation: 'CREATE',
        userInfo: { username: 'alice', groups: [] },
        object: {
          apiVersion: 'kube-request-access.io/v1',
          kind: 'AccessRequest',
          metadata: { name: 'r', namespace: 'team-a' },
          spec: {
            userInfo: { username: 'alice' },
            forObject: {
              resource: { group: '', version: 'v1', resource: 'pods' },
              subResource: 'exec',
              name: 'web',
              namespace: 'team-a',
            },
            execOptions: { container: 'app', command: ['ls'] },
          },
        },
      },
    };
    const answer = (await (await worker.fetch(post(review), env)).json()) as {
      response: { allowed: boolean; status: { message: string } };
    };
    assert.equal(answer.response.allowed, false);
    assert.match(answer.response.status.message, /extended validation webhook could not be asked/);
  });
});

describe('fetch lookup and effects', () => {
  const item = {
    apiVersion: 'kube-request-access.io/v1',
    kind: 'AccessRequest',
    metadata: { name: 'r1', namespace: 'team-a', uid: 'uid-1', resourceVersion: '7' },
    spec: {
      userInfo: { username: 'alice' },
      forObject: {
        resource: { group: '', version: 'v1', resource: 'pods' },
        subResource: 'exec',
        name: 'web',
        namespace: 'team-a',
      },
    },
  };
  const other = structuredClone(item);
  other.metadata.name = 'r2';
  other.spec.userInfo.username = 'bob';

  it('lists one namespace with a field selector and a bearer token, and filters what comes back', async () => {
    const api = fakeFetch(() => ({ status: 200, body: { items: [item, other] } }));
    const lookup = fetchLookup({
      client: kubernetesClient({ server: 'https://k8s.example.com/prefix', token: 't', fetch: api.fn }),
      logger: silentLogger,
    });
    const found = await lookup.accessRequestsFor({ namespace: 'team-a', pod: 'web', usernames: ['alice'] });
    assert.deepEqual(
      found.map((r) => r.metadata.name),
      ['r1'],
    );
    assert.equal(api.calls[0]!.url.pathname, '/prefix/apis/kube-request-access.io/v1/namespaces/team-a/accessrequests');
    assert.equal(api.calls[0]!.url.searchParams.get('fieldSelector'), 'spec.forObject.name=web');
    assert.equal(api.calls[0]!.headers.get('authorization'), 'Bearer t');
    assert.equal(lookup.fieldSelectorsWork(), true);
  });

  it('falls back to the namespace list when the CRD declares no selectableFields, once', async () => {
    const api = fakeFetch((call) =>
      call.url.searchParams.has('fieldSelector')
        ? {
            status: 400,
            body: { kind: 'Status', reason: 'BadRequest', message: 'field label not supported: spec.forObject.name' },
          }
        : { status: 200, body: { items: [item] } },
    );
    const lookup = fetchLookup({
      client: kubernetesClient({ server: 'https://k8s.example.com', token: 't', fetch: api.fn }),
      logger: silentLogger,
    });
    for (let i = 0; i < 2; i++)
      assert.equal(
        (await lookup.accessRequestsFor({ namespace: 'team-a', pod: 'web', usernames: ['alice'] })).length,
        1,
      );
    assert.deepEqual(
      api.calls.map((c) => c.url.searchParams.has('fieldSelector')),
      [true, false, false],
    );
  });

  it('fails closed on an API error instead of finding nothing', async () => {
    const api = fakeFetch(() => ({ status: 403, body: { kind: 'Status', reason: 'Forbidden', message: 'forbidden' } }));
    const lookup = fetchLookup({
      client: kubernetesClient({ server: 'https://k8s.example.com', token: 't', fetch: api.fn }),
      logger: silentLogger,
    });
    await assert.rejects(lookup.grantsFor('team-a', 'r1'), /HTTP 403 \(give the token get, list and delete/);
  });

  it('consumes with uid and resourceVersion preconditions; 404, and 409 with the request used meanwhile, are a lost race', async () => {
    let status = 200;
    // A 409 is followed by a live read: the request, used up by another replica meanwhile.
    const used = {
      metadata: { name: 'r1', namespace: 'team-a', uid: 'uid-1', resourceVersion: '9' },
      spec: {
        userInfo: { username: 'alice' },
        forObject: { resource: { resource: 'pods' }, subResource: 'exec', name: 'web', namespace: 'team-a' },
      },
      status: { uses: 1, usedAt: '2026-01-01T00:00:00Z' },
    };
    const api = fakeFetch((call) => (call.method === 'GET' ? { status: 200, body: used } : { status, body: {} }));
    const effects = fetchEffects({
      client: kubernetesClient({ server: 'https://k8s.example.com', token: 't', fetch: api.fn }),
      logger: silentLogger,
    });
    const effect = {
      type: 'consume-request' as const,
      namespace: 'team-a',
      name: 'r1',
      uid: 'uid-1',
      resourceVersion: '7',
    };
    await effects.run(effect);
    // Marked used on its status subresource, with the uid and resourceVersion the decision read.
    assert.equal(api.calls[0]!.method, 'PUT');
    assert.equal(
      api.calls[0]!.url.pathname,
      '/apis/kube-request-access.io/v1/namespaces/team-a/accessrequests/r1/status',
    );
    const { uid, resourceVersion } = JSON.parse(api.calls[0]!.body!).metadata;
    assert.deepEqual({ uid, resourceVersion }, { uid: 'uid-1', resourceVersion: '7' });
    for (status of [409, 404]) await assert.rejects(effects.run(effect), EffectConflict);
    status = 500;
    await assert.rejects(effects.run(effect), (error) => !(error instanceof EffectConflict));
  });
});

describe('kubernetes client', () => {
  it('retries once when the API server answers 429', async () => {
    let calls = 0;
    let always429 = false;
    const api = fakeFetch(() =>
      always429 || ++calls === 1
        ? { status: 429, body: { kind: 'Status', reason: 'TooManyRequests', message: 'storage is (re)initializing' } }
        : { status: 200, body: { items: [] } },
    );
    const client = kubernetesClient({ server: 'https://k8s.example.com', token: 't', fetch: api.fn });
    assert.deepEqual(await client.get('/apis/x'), { items: [] });
    assert.equal(api.calls.length, 2);
    always429 = true;
    await assert.rejects(client.get('/apis/x'), /HTTP 429/);
  });
});
