import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as v from 'valibot';
import { AccessRequest, type AccessGrant } from '../../../functions/schemas.ts';
import { requestState } from '../../../cli/lib/requests.ts';
import { describeRequest, formatAge, listTable, summarizeRequest } from '../../../cli/lib/summary.ts';

const NOW = new Date('2026-01-10T12:00:00Z');

function request(overrides: Partial<AccessRequest['spec']> = {}, name = 'alice-web-0-x2kqp'): AccessRequest {
  return {
    apiVersion: 'kube-request-access.io/v1',
    kind: 'AccessRequest',
    metadata: {
      name,
      namespace: 'shop',
      uid: 'uid-1',
      resourceVersion: '1',
      creationTimestamp: '2026-01-10T11:55:00Z',
    },
    spec: {
      userInfo: { username: 'alice' },
      forObject: {
        resource: { group: '', version: 'v1', resource: 'pods' },
        subResource: 'exec',
        name: 'web-0',
        namespace: 'shop',
      },
      validFor: '',
      execOptions: {
        stdin: false,
        stdout: true,
        stderr: true,
        tty: false,
        container: 'app',
        command: ['cat', '/my/app/config/*'],
      },
      customKeys: { ticket: 'OPS-1', why: 'debug' },
      ...overrides,
    },
  };
}

function grant(status: 'granted' | 'denied', reason?: string): AccessGrant {
  return {
    metadata: {
      name: 'alice-web-0-x2kqp-grant',
      namespace: 'shop',
      uid: 'g1',
      resourceVersion: '2',
      creationTimestamp: '2026-01-10T11:58:00Z',
    },
    spec: {
      grantFor: 'alice-web-0-x2kqp',
      grantForUID: 'uid-1',
      grantedBy: { username: 'carol' },
      ...(reason ? { reason } : {}),
    },
    status,
  };
}

describe('summaries', () => {
  it('tells an approver who wants what, where, for how long', () => {
    assert.equal(
      summarizeRequest(request(), NOW),
      [
        'alice asks to exec in pod shop/web-0',
        '  request:     alice-web-0-x2kqp',
        '  container:   app',
        "  command:     cat '/my/app/config/*'",
        '  access:      once (a single exec)',
        '  custom keys: ticket=OPS-1, why=debug',
        '  age:         5m',
      ].join('\n'),
    );
  });

  it('says ANY command, the window and no custom keys plainly', () => {
    const text = summarizeRequest(
      request({
        validFor: '1h',
        customKeys: {},
        execOptions: { stdin: false, stdout: true, stderr: true, tty: false, container: 'app', command: [] },
      }),
      NOW,
    );
    assert.match(text, /^ {2}command: {5}ANY command$/m);
    assert.match(text, /^ {2}access: {6}for 1h from the grant$/m);
    assert.match(text, /^ {2}custom keys: \(none\)$/m);
  });

  it('describes a denied request with who and why', () => {
    const r = request();
    const text = describeRequest(r, requestState(r, [grant('denied', 'use the replica')], NOW), NOW);
    assert.match(text, /^ {2}status: {6}Denied$/m);
    assert.match(text, /^ {2}decided by: {2}carol, 2m ago$/m);
    assert.match(text, /^ {2}reason: {6}use the replica$/m);
  });

  it('shows how long a time-bound grant has left', () => {
    const r = request({ validFor: '1h' });
    const text = describeRequest(r, requestState(r, [grant('granted')], NOW), NOW);
    assert.match(text, /status: {6}Granted \(58m left\)/);
    assert.match(text, /expires: {5}2026-01-10T12:58:00.000Z/);
  });

  it('formats ages like kubectl', () => {
    assert.equal(formatAge(45_000), '45s');
    assert.equal(formatAge(12 * 60_000), '12m');
    assert.equal(formatAge(5 * 3_600_000), '5h');
    assert.equal(formatAge(3 * 86_400_000), '3d');
  });

  it('lists requests as a table', () => {
    const pending = request({}, 'alice-web-0-x2kqp');
    const table = listTable(
      [{ request: pending, state: requestState(pending, [], NOW) }],
      { wide: false, allNamespaces: false },
      NOW,
    );
    assert.equal(
      table,
      [
        'NAME                USER    POD     COMMAND                  VALID-FOR   STATUS    AGE',
        "alice-web-0-x2kqp   alice   web-0   cat '/my/app/config/*'   once        Pending   5m",
      ].join('\n'),
    );
  });

  it('adds namespace and decision columns for -A -o wide', () => {
    const r = request();
    const table = listTable(
      [{ request: r, state: requestState(r, [grant('denied', 'no')], NOW) }],
      { wide: true, allNamespaces: true },
      NOW,
    );
    const [header, row] = table.split('\n');
    assert.match(
      header!,
      /^NAMESPACE\s+NAME\s+USER\s+POD\s+CONTAINER\s+COMMAND\s+VALID-FOR\s+STATUS\s+AGE\s+CREATED-BY\s+WHY\s+DECIDED-BY\s+CUSTOM-KEYS\s+REASON$/,
    );
    assert.match(
      row!,
      /^shop\s+alice-web-0-x2kqp\s+alice\s+web-0\s+app\s+.*Denied\s+5m\s+-\s+-\s+carol\s+ticket=OPS-1, why=debug\s+no$/,
    );
  });
});

describe('summaries of the friends of exec', () => {
  const base = {
    apiVersion: 'kube-request-access.io/v1',
    kind: 'AccessRequest',
    metadata: {
      name: 'alice-web-0-abc',
      namespace: 'shop',
      uid: 'u',
      resourceVersion: '1',
      creationTimestamp: '2026-11-28T09:55:00Z',
    },
  };
  const target = (subResource: string) => ({
    resource: { group: '', version: 'v1', resource: 'pods' },
    subResource,
    name: 'web-0',
    namespace: 'shop',
  });
  const now = new Date('2026-11-28T10:00:00Z');

  it('shows the ports an approver grants for port-forward', () => {
    const text = summarizeRequest(
      v.parse(AccessRequest, {
        ...base,
        spec: { userInfo: { username: 'alice' }, forObject: target('portforward'), portForwardOptions: { ports: [] } },
      }),
      now,
    );
    assert.match(text, /alice asks to port-forward to pod shop\/web-0/);
    assert.match(text, /ports: +ANY port of the pod/);
    assert.doesNotMatch(text, /command:/);
  });

  it('shows the image and target of a debug container', () => {
    const text = summarizeRequest(
      v.parse(AccessRequest, {
        ...base,
        spec: {
          userInfo: { username: 'alice' },
          forObject: target('ephemeralcontainers'),
          debugOptions: { image: 'busybox:1.36', target: 'app' },
        },
      }),
      now,
    );
    assert.match(text, /image: +busybox:1.36/);
    assert.match(text, /target: +app/);
  });

  it('shows a copy-in destination instead of "ANY command"', () => {
    const text = summarizeRequest(
      v.parse(AccessRequest, {
        ...base,
        spec: {
          userInfo: { username: 'alice' },
          forObject: target('exec'),
          execOptions: { container: 'app' },
          copyOptions: { direction: 'in', path: '/tmp/in' },
        },
      }),
      now,
    );
    assert.match(text, /copy in: +kubectl cp into \/tmp\/in/);
    assert.doesNotMatch(text, /ANY command/);
  });
});
