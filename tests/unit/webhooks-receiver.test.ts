// The public receivers of `kube-request-access/webhooks`, driven through app.request.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Hono } from 'hono';
import { auditReceiver, invalid, valid, validationReceiver, type AuditMessage } from 'kube-request-access/webhooks';

const request = {
  uid: 'u-1',
  kind: { group: '', version: 'v1', kind: 'PodExecOptions' },
  resource: { group: '', version: 'v1', resource: 'pods' },
  subResource: 'exec',
  name: 'nginx',
  namespace: 'default',
  operation: 'CONNECT',
  userInfo: { username: 'alice' },
};
const execOptions = { container: 'nginx', command: ['ls'], stdout: true };
const accessRequest = {
  metadata: { name: 'alice-ls', namespace: 'default' },
  spec: {
    userInfo: { username: 'alice' },
    forObject: {
      resource: { version: 'v1', resource: 'pods' },
      subResource: 'exec',
      name: 'nginx',
      namespace: 'default',
    },
    customKeys: { ticket: 'OPS-1' },
  },
};
const accessGrant = {
  metadata: { name: 'g' },
  spec: { grantFor: 'alice-ls', grantedBy: { username: 'bob' } },
  status: 'granted',
};

function post(
  app: Hono,
  path: string,
  body: unknown,
  headers: Record<string, string> = { 'Content-Type': 'application/json' },
) {
  return app.request(path, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
}

describe('auditReceiver', () => {
  function setup(throwing = false) {
    const seen: string[] = [];
    const messages: AuditMessage[] = [];
    const app = new Hono();
    app.route(
      '/audit',
      auditReceiver({
        onMessage: (message) => {
          messages.push(message);
        },
        onExec: (data) => {
          if (throwing) throw new Error('disk full');
          seen.push(`exec ${data.request.userInfo.username} ${data.execOptions.command.join(' ')} ${data.isAllowed}`);
        },
        onCreated: (data) => {
          seen.push(`created ${data.accessRequest.metadata.name}`);
        },
        onGranted: (data) => {
          seen.push(`granted ${data.accessGrant.status} by ${data.accessGrant.spec.grantedBy.username}`);
        },
        onError: () => {},
      }),
    );
    return { app, seen, messages };
  }

  test('dispatches each type to its handler with parsed data and answers 200', async () => {
    const { app, seen, messages } = setup();
    assert.equal((await post(app, '/audit?type=audit-created', { request, accessRequest })).status, 200);
    assert.equal((await post(app, '/audit?type=audit-granted', { request, accessRequest, accessGrant })).status, 200);
    assert.equal(
      (await post(app, '/audit?type=audit-exec', { request, isAllowed: true, execOptions, isAdmin: false })).status,
      200,
    );
    assert.deepEqual(seen, ['created alice-ls', 'granted granted by bob', 'exec alice ls true']);
    assert.deepEqual(
      messages.map((m) => m.type),
      ['audit-created', 'audit-granted', 'audit-exec'],
    );
    // Defaults filled in, unknown fields kept.
    assert.equal(messages[2]!.type === 'audit-exec' && messages[2]!.data.execOptions.tty, false);
  });

  test('accepts a body without Content-Type, as the seed sends it', async () => {
    const { app } = setup();
    const body = new TextEncoder().encode(JSON.stringify({ request, accessRequest }));
    const res = await app.request('/audit?type=audit-created', { method: 'POST', body });
    assert.equal(res.status, 200);
  });

  const bad: {
    name: string;
    path: string;
    body: unknown;
    headers?: Record<string, string>;
    status: number;
    error: RegExp;
  }[] = [
    {
      name: 'an unknown type',
      path: '/audit?type=audit-deleted',
      body: {},
      status: 400,
      error: /unknown audit type "audit-deleted"/,
    },
    { name: 'a missing type', path: '/audit', body: {}, status: 400, error: /unknown audit type ""/ },
    { name: 'a non-JSON body', path: '/audit?type=audit-exec', body: '{nope', status: 400, error: /not JSON/ },
    { name: 'an empty body', path: '/audit?type=audit-exec', body: '', status: 400, error: /empty body/ },
    {
      name: 'an exec body without isAllowed',
      path: '/audit?type=audit-exec',
      body: { request, execOptions, isAdmin: false },
      status: 400,
      error: /invalid audit-exec body: isAllowed/,
    },
    {
      name: 'a created body without userInfo',
      path: '/audit?type=audit-created',
      body: { request: { ...request, userInfo: undefined }, accessRequest },
      status: 400,
      error: /request\.userInfo/,
    },
    {
      name: 'a granted body with an unknown status',
      path: '/audit?type=audit-granted',
      body: { request, accessRequest, accessGrant: { ...accessGrant, status: 'maybe' } },
      status: 400,
      error: /accessGrant\.status/,
    },
    {
      name: 'a form body',
      path: '/audit?type=audit-exec',
      body: 'a=b',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      status: 415,
      error: /application\/json/,
    },
  ];
  for (const c of bad) {
    test(`answers ${c.status} to ${c.name} without calling a handler`, async () => {
      const { app, messages } = setup();
      const res = await post(app, c.path, c.body, c.headers);
      assert.equal(res.status, c.status);
      assert.match(((await res.json()) as { error: string }).error, c.error);
      assert.equal(messages.length, 0);
    });
  }

  test('answers 413 to a body over the cap', async () => {
    const app = auditReceiver({ maxBodyBytes: 100 });
    const res = await post(app, '/?type=audit-exec', {
      request,
      isAllowed: true,
      execOptions,
      isAdmin: false,
      pad: 'x'.repeat(200),
    });
    assert.equal(res.status, 413);
  });

  test('answers 500 when a handler throws, so kube-request-access denies', async () => {
    const { app } = setup(true);
    const res = await post(app, '/audit?type=audit-exec', { request, isAllowed: true, execOptions, isAdmin: false });
    assert.equal(res.status, 500);
    assert.deepEqual(await res.json(), { error: 'audit handler failed' });
  });
});

describe('validationReceiver', () => {
  const app = validationReceiver(({ AccessRequest }) =>
    AccessRequest.spec.customKeys?.ticket ? valid('ok') : invalid('add -k ticket=OPS-123'),
  );

  test('answers the verdict as {status, message} with 200', async () => {
    const yes = await post(app, '/', { Request: request, AccessRequest: accessRequest });
    assert.equal(yes.status, 200);
    assert.deepEqual(await yes.json(), { status: 'valid', message: 'ok' });
    const no = await post(app, '/', {
      Request: request,
      AccessRequest: { ...accessRequest, spec: { ...accessRequest.spec, customKeys: {} } },
    });
    assert.equal(no.status, 200);
    assert.deepEqual(await no.json(), { status: 'invalid', message: 'add -k ticket=OPS-123' });
  });

  test('answers 400 to lower-case keys (the seed protocol capitalises them)', async () => {
    const res = await post(app, '/', { request, accessRequest });
    assert.equal(res.status, 400);
    assert.match(((await res.json()) as { error: string }).error, /Request/);
  });

  test('answers 400 to non-JSON', async () => {
    assert.equal((await post(app, '/', 'nope')).status, 400);
  });

  test('answers 500 when the validator throws or returns garbage', async () => {
    const throwing = validationReceiver(
      () => {
        throw new Error('ticket system down');
      },
      { onError: () => {} },
    );
    assert.equal((await post(throwing, '/', { Request: request, AccessRequest: accessRequest })).status, 500);
    const garbage = validationReceiver(() => ({ status: 'perhaps' }) as never, { onError: () => {} });
    assert.equal((await post(garbage, '/', { Request: request, AccessRequest: accessRequest })).status, 500);
  });
});
