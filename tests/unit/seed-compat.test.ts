// Migrating from the seed (spreadshirt/kube-request-access, Go): its payloads and objects as Go's
// encoding/json writes them (`null` for a nil map or slice, `"creationTimestamp": null`), read by
// the `kube-request-access/webhooks` receivers and by the server's own admission parsing; and the
// seed's matching of always-allowed user names under --username-prefix.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Hono } from 'hono';
import * as v from 'valibot';
import { auditReceiver, validationReceiver, valid, invalid, type AuditMessage } from 'kube-request-access/webhooks';
import { AccessRequest } from '../../functions/schemas.ts';
import { isAlwaysAllowed } from '../../functions/access.ts';
import { exec } from '../../functions/exec/index.ts';
import { request as requestConcern } from '../../functions/request/index.ts';
import { DEFAULT_CONFIG } from '../../functions/types.ts';
import { accessGrant, context, execReview, lookupOf, minutes, objectReview, users } from '../support/builders.ts';

// admissionv1.AdmissionRequest as the seed re-encodes it: RawExtension `null`s, no omitempty on kind/resource.
const goExecRequest = {
  uid: '5a0e3c3e-1111-4000-8000-000000000001',
  kind: { group: '', version: 'v1', kind: 'PodExecOptions' },
  resource: { group: '', version: 'v1', resource: 'pods' },
  subResource: 'exec',
  requestKind: { group: '', version: 'v1', kind: 'PodExecOptions' },
  requestResource: { group: '', version: 'v1', resource: 'pods' },
  requestSubResource: 'exec',
  name: 'nginx-7fb96c846b-pcnxl',
  namespace: 'default',
  operation: 'CONNECT',
  userInfo: { username: 'jane', uid: 'u-jane', groups: ['developers', 'system:authenticated'] },
  object: {
    kind: 'PodExecOptions',
    apiVersion: 'v1',
    stdout: true,
    stderr: true,
    container: 'nginx',
    command: ['ls', '-l'],
  },
  oldObject: null,
  dryRun: false,
  options: null,
};
// accessrequestsv1.AccessRequest from the seed: customKeys is a map without omitempty, command a
// slice without omitempty, creationTimestamp a metav1.Time (null when zero).
const goAccessRequest = {
  kind: 'AccessRequest',
  apiVersion: 'spreadgroup.com/v1',
  metadata: {
    name: 'accessrequest-6z4wd',
    generateName: 'accessrequest-',
    namespace: 'default',
    uid: 'ar-uid',
    resourceVersion: '812',
    creationTimestamp: null,
  },
  spec: {
    userInfo: { username: 'jane' },
    forObject: {
      resource: { group: '', version: 'v1', resource: 'pods' },
      subResource: 'exec',
      name: 'nginx-7fb96c846b-pcnxl',
      namespace: 'default',
    },
    validFor: '1h',
    execOptions: {
      kind: 'PodExecOptions',
      apiVersion: 'v1',
      stdout: true,
      stderr: true,
      container: 'nginx',
      command: null,
    },
    customKeys: null,
  },
};
const goAccessGrant = {
  kind: 'AccessGrant',
  apiVersion: 'spreadgroup.com/v1',
  metadata: { name: 'grant-x7k2p', generateName: 'grant-', namespace: 'default', creationTimestamp: null },
  spec: { grantedBy: { username: 'system:admin' }, grantFor: 'accessrequest-6z4wd' },
  status: 'granted',
};
const goCreateRequest = {
  ...goExecRequest,
  kind: { group: 'spreadgroup.com', version: 'v1', kind: 'AccessRequest' },
  resource: { group: 'spreadgroup.com', version: 'v1', resource: 'accessrequests' },
  subResource: undefined,
  requestSubResource: undefined,
  requestKind: { group: 'spreadgroup.com', version: 'v1', kind: 'AccessRequest' },
  requestResource: { group: 'spreadgroup.com', version: 'v1', resource: 'accessrequests' },
  name: 'accessrequest-6z4wd',
  operation: 'CREATE',
  object: goAccessRequest,
};

// What Go's json.Encoder writes: a trailing newline, and no Content-Type (the seed sets none).
const goBody = (value: unknown) => `${JSON.stringify(value)}\n`;
// (Bytes, not a string, so that Request adds no text/plain Content-Type either.)
const post = (app: Hono, path: string, body: unknown) =>
  app.request(path, {
    method: 'POST',
    headers: { 'User-Agent': 'kube-request-access' },
    body: new TextEncoder().encode(goBody(body)),
  });

describe("the seed's Go payloads through kube-request-access/webhooks", () => {
  function auditApp() {
    const messages: AuditMessage[] = [];
    const app = new Hono();
    app.route('/audit', auditReceiver({ onMessage: (m) => void messages.push(m) }));
    return { app, messages };
  }

  test('audit-created with "customKeys": null and "command": null is accepted, read as none', async () => {
    const { app, messages } = auditApp();
    const res = await post(app, '/audit?type=audit-created', {
      request: goCreateRequest,
      accessRequest: goAccessRequest,
    });
    assert.equal(res.status, 200, await res.text());
    const message = messages[0]!;
    assert.equal(message.type, 'audit-created');
    if (message.type !== 'audit-created') return;
    assert.equal(message.data.accessRequest.spec.customKeys, undefined);
    assert.deepEqual(message.data.accessRequest.spec.execOptions?.command, []);
    assert.equal(message.data.accessRequest.metadata.creationTimestamp, null);
  });

  test("audit-granted with the seed's request and grant is accepted", async () => {
    const { app, messages } = auditApp();
    const res = await post(app, '/audit?type=audit-granted', {
      request: {
        ...goCreateRequest,
        kind: { group: 'spreadgroup.com', version: 'v1', kind: 'AccessGrant' },
        userInfo: { username: 'system:admin', groups: ['system:masters'] },
        object: goAccessGrant,
      },
      accessRequest: goAccessRequest,
      accessGrant: goAccessGrant,
    });
    assert.equal(res.status, 200, await res.text());
    assert.equal(messages[0]?.type, 'audit-granted');
  });

  test('audit-exec as the seed sends it is accepted', async () => {
    const { app, messages } = auditApp();
    const res = await post(app, '/audit?type=audit-exec', {
      request: goExecRequest,
      isAllowed: true,
      execOptions: goExecRequest.object,
      isAdmin: false,
    });
    assert.equal(res.status, 200, await res.text());
    assert.equal(messages[0]?.type, 'audit-exec');
  });

  test('an execOptions of null (a nil pointer in Go) reads as absent', async () => {
    const { app, messages } = auditApp();
    const accessRequest = { ...goAccessRequest, spec: { ...goAccessRequest.spec, execOptions: null } };
    const res = await post(app, '/audit?type=audit-created', { request: goCreateRequest, accessRequest });
    assert.equal(res.status, 200, await res.text());
    const message = messages[0]!;
    if (message.type === 'audit-created') assert.equal(message.data.accessRequest.spec.execOptions, undefined);
  });

  test('the validator gets {Request, AccessRequest} with nulls and answers as the seed expects', async () => {
    const app = new Hono();
    app.route(
      '/validate',
      validationReceiver((data) =>
        data.AccessRequest.spec.customKeys?.ticket ? valid() : invalid('customKeys.ticket is required'),
      ),
    );
    const res = await post(app, '/validate', { Request: goCreateRequest, AccessRequest: goAccessRequest });
    const text = await res.text();
    assert.equal(res.status, 200, text);
    assert.deepEqual(JSON.parse(text), { status: 'invalid', message: 'customKeys.ticket is required' });
  });

  test('nulls stay refused where they do not mean empty', async () => {
    const { app } = auditApp();
    for (const accessRequest of [
      { ...goAccessRequest, spec: { ...goAccessRequest.spec, userInfo: null } },
      { ...goAccessRequest, spec: { ...goAccessRequest.spec, forObject: null } },
      { ...goAccessRequest, spec: { ...goAccessRequest.spec, customKeys: { ticket: null } } },
      { ...goAccessRequest, spec: { ...goAccessRequest.spec, execOptions: { command: [null] } } },
    ]) {
      const res = await post(app, '/audit?type=audit-created', { request: goCreateRequest, accessRequest });
      assert.equal(res.status, 400, JSON.stringify(accessRequest.spec));
    }
  });
});

describe("seed-shaped AccessRequests in the server's own reviews", () => {
  // A migrated request as `kubectl get -o json` shows it: the seed's nulls kept.
  const migrated = (command: string[] | null) => ({
    ...goAccessRequest,
    apiVersion: 'kube-request-access.io/v1',
    metadata: {
      name: 'jane-nginx',
      namespace: 'team-a',
      uid: 'uid-jane-nginx',
      resourceVersion: '5',
      creationTimestamp: minutes(-30),
    },
    spec: {
      ...goAccessRequest.spec,
      userInfo: { username: 'alice' },
      validFor: '',
      forObject: { ...goAccessRequest.spec.forObject, name: 'web-0', namespace: 'team-a' },
      execOptions: { ...goAccessRequest.spec.execOptions, container: 'app', command },
    },
  });

  test('parses: customKeys null = no keys, command null = any command', () => {
    const parsed = v.parse(AccessRequest, migrated(null));
    assert.equal(parsed.spec.customKeys, undefined);
    assert.deepEqual(parsed.spec.execOptions?.command, []);
  });

  test('a granted request with customKeys null lets its exec through', async () => {
    const objects = [migrated(['cat', '/app/config']), accessGrant({ grantFor: 'jane-nginx' })];
    const decision = await exec(execReview(), lookupOf(objects), context());
    assert.equal(decision.allowed, true, decision.message);
  });

  test('creating one is reviewed, not refused as malformed', async () => {
    const decision = await requestConcern(objectReview(migrated(['cat', '/app/config'])), lookupOf([]), context());
    assert.equal(decision.allowed, true, decision.message);
  });
});

describe('always-allowed user names under --username-prefix (as the seed matches them)', () => {
  const config = { ...DEFAULT_CONFIG, alwaysAllowedUsers: ['alice', 'oidc:bob'], usernamePrefix: 'oidc:' };
  const allowed = (username: string, cfg = config) => isAlwaysAllowed({ username, groups: [] }, cfg);

  test('a name written without the prefix matches the prefixed authenticated user', () => {
    assert.equal(allowed('oidc:alice'), true);
  });
  test('a name written as authenticated matches exactly', () => {
    assert.equal(allowed('oidc:bob'), true);
    assert.equal(allowed('alice'), true, 'as before: the configured name itself');
  });
  test('the prefix is stripped only at the start, once', () => {
    assert.equal(allowed('xoidc:alice'), false);
    assert.equal(allowed('alice-oidc:'), false);
    assert.equal(allowed('oidc:oidc:bob'), false, 'a claim that is itself "oidc:bob" is someone else');
    assert.equal(allowed('oidc:oidc:alice'), false);
    assert.equal(allowed('oidc:'), false);
  });
  test('without a prefix, names match exactly', () => {
    const plain = { ...config, usernamePrefix: '' };
    assert.equal(allowed('alice', plain), true);
    assert.equal(allowed('oidc:alice', plain), false);
  });
  test('an empty configured name matches nobody', () => {
    assert.equal(allowed('oidc:', { ...config, alwaysAllowedUsers: [''] }), false);
  });
  test('groups are unchanged', () => {
    assert.equal(
      isAlwaysAllowed(users.admin, { ...config, alwaysAllowedGroups: ['kube-request-access:admins'] }),
      true,
    );
  });
  test('the exec concern lets oidc:breakglass through as admin when breakglass is configured', async () => {
    const decision = await exec(
      execReview({ user: { username: 'oidc:breakglass' } }),
      lookupOf([]),
      context({ alwaysAllowedUsers: ['breakglass'], usernamePrefix: 'oidc:' }),
    );
    assert.equal(decision.allowed, true, decision.message);
    const event = decision.audit[0]!;
    if (event.type === 'audit-exec') assert.equal(event.data.isAdmin, true);
  });
});
