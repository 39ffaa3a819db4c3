// The audit webhook client and the audit log sink, against real local HTTPS servers.
import assert from 'node:assert/strict';
import { mkdtemp, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startHttpsServer, type Handler } from '../support/https-server.ts';
import { createCA, type CertificateAuthority, type Pem } from '../support/pki.ts';
import { auditWebhookSink } from '../../adapters/audit/webhook.ts';
import { auditSinkOver } from '../../adapters/audit/webhook-protocol.ts';
import { readCaBundle } from '../../adapters/audit/https.ts';
import { logAuditSink } from '../../adapters/audit/log.ts';
import type { AuditEvent } from '../../functions/types.ts';

const startServer = (pem: Pem, handler: Handler) => startHttpsServer(pem, handler, '/audit');

const request = {
  uid: 'b6a1c3e0-0000-4000-8000-000000000001',
  kind: { group: '', version: 'v1', kind: 'PodExecOptions' },
  resource: { group: '', version: 'v1', resource: 'pods' },
  subResource: 'exec',
  name: 'nginx-7fb96c846b-pcnxl',
  namespace: 'default',
  operation: 'CONNECT' as const,
  userInfo: { username: 'alice', groups: ['developers'] },
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
};
const execOptions = { stdin: false, stdout: true, stderr: true, tty: false, container: 'nginx', command: ['ls', '-l'] };
const accessRequest = {
  metadata: { name: 'alice-ls', namespace: 'default', uid: 'u1', resourceVersion: '7' },
  spec: {
    userInfo: { username: 'alice' },
    forObject: {
      resource: { group: '', version: 'v1', resource: 'pods' },
      subResource: 'exec',
      name: 'nginx-7fb96c846b-pcnxl',
      namespace: 'default',
    },
    validFor: '1h',
    execOptions,
    customKeys: { ticket: 'OPS-1' },
  },
};
const accessGrant = {
  metadata: { name: 'alice-ls', namespace: 'default', uid: 'g1', resourceVersion: '8' },
  spec: { grantFor: 'alice-ls', grantedBy: { username: 'bob' } },
  status: 'granted' as const,
};
const execEvent: AuditEvent = { type: 'audit-exec', data: { request, isAllowed: true, execOptions, isAdmin: false } };
const createdEvent: AuditEvent = {
  type: 'audit-created',
  data: {
    request: {
      ...request,
      kind: { group: 'kube-request-access.io', version: 'v1', kind: 'AccessRequest' },
      operation: 'CREATE',
    },
    accessRequest,
  },
};
const grantedEvent: AuditEvent = {
  type: 'audit-granted',
  data: {
    request: { ...request, userInfo: { username: 'bob', groups: [] }, operation: 'CREATE' },
    accessRequest,
    accessGrant,
  },
};
const deletedEvent: AuditEvent = {
  type: 'audit-deleted',
  data: {
    request: { ...request, operation: 'DELETE' },
    kind: 'AccessRequest',
    object: accessRequest,
    role: 'requester',
  },
};

let ca: CertificateAuthority;
let serverPem: Pem;
let otherServerPem: Pem;

before(async () => {
  ca = await createCA();
  serverPem = await ca.issue({ commonName: 'audit', hosts: ['127.0.0.1', 'localhost'] });
  const otherCa = await createCA('somebody else');
  otherServerPem = await otherCa.issue({ commonName: 'audit', hosts: ['127.0.0.1', 'localhost'] });
});

describe('audit webhook client', () => {
  test('posts each event type with ?type= and the seed body, and resolves on 200', async () => {
    const seen: { url: string; contentType: string | undefined; body: unknown }[] = [];
    const server = await startServer(serverPem, (req, body, res) => {
      seen.push({ url: req.url ?? '', contentType: req.headers['content-type'], body: JSON.parse(body) });
      res.writeHead(200).end();
    });
    try {
      const sink = auditWebhookSink({ url: server.url, caBundle: ca.cert });
      await sink.record(createdEvent);
      await sink.record(grantedEvent);
      await sink.record(execEvent);
      // Not in the seed's protocol (its receivers would answer an error): the audit log has it.
      await sink.record(deletedEvent);
      assert.deepEqual(
        seen.map((s) => s.url),
        ['/audit?type=audit-created', '/audit?type=audit-granted', '/audit?type=audit-exec'],
      );
      assert.ok(seen.every((s) => s.contentType === 'application/json'));
      assert.deepEqual(Object.keys(seen[0]!.body as object), ['request', 'accessRequest']);
      assert.deepEqual(Object.keys(seen[1]!.body as object), ['request', 'accessRequest', 'accessGrant']);
      assert.deepEqual(seen[2]!.body, { request, isAllowed: true, execOptions, isAdmin: false });
    } finally {
      await server.close();
    }
  });

  test('keeps the query string of the configured URL', async () => {
    let url = '';
    const server = await startServer(serverPem, (req, _body, res) => {
      url = req.url ?? '';
      res.writeHead(200).end();
    });
    try {
      await auditWebhookSink({ url: `${server.url}?tenant=a`, caBundle: ca.cert }).record(execEvent);
      assert.equal(url, '/audit?tenant=a&type=audit-exec');
    } finally {
      await server.close();
    }
  });

  for (const status of [201, 204, 400, 500]) {
    test(`rejects when the webhook answers ${status}, naming the webhook and the status`, async () => {
      const server = await startServer(serverPem, (_req, _body, res) => {
        res.writeHead(status).end(status >= 400 ? 'disk full' : undefined);
      });
      try {
        const sink = auditWebhookSink({ url: server.url, caBundle: ca.cert });
        await assert.rejects(sink.record(execEvent), (error: Error) => {
          assert.match(error.message, /^audit webhook https:\/\/127\.0\.0\.1:\d+\/audit: audit-exec answered HTTP/);
          assert.match(error.message, new RegExp(`HTTP ${status}`));
          if (status >= 400) assert.match(error.message, /disk full/);
          return true;
        });
      } finally {
        await server.close();
      }
    });
  }

  test('rejects when the webhook does not answer in time', async () => {
    const server = await startServer(serverPem, () => {
      /* never answers */
    });
    try {
      const sink = auditWebhookSink({ url: server.url, caBundle: ca.cert, timeoutMs: 200 });
      const started = Date.now();
      await assert.rejects(
        sink.record(execEvent),
        /audit webhook .*: sending audit-exec failed: no answer within 200ms/,
      );
      assert.ok(Date.now() - started < 2000);
    } finally {
      await server.close();
    }
  });

  test('rejects a server certificate not signed by the configured CA', async () => {
    let reached = false;
    const server = await startServer(otherServerPem, (_req, _body, res) => {
      reached = true;
      res.writeHead(200).end();
    });
    try {
      const sink = auditWebhookSink({ url: server.url, caBundle: ca.cert });
      await assert.rejects(
        sink.record(execEvent),
        /audit webhook .*: sending audit-exec failed: TLS: the server certificate is not signed by the configured CA bundle/,
      );
      assert.equal(reached, false);
    } finally {
      await server.close();
    }
  });

  test('rejects a certificate from the right CA issued for another host', async () => {
    const wrongHost = await ca.issue({ commonName: 'elsewhere', hosts: ['elsewhere.example'] });
    const server = await startServer(wrongHost, (_req, _body, res) => res.writeHead(200).end());
    try {
      const sink = auditWebhookSink({ url: server.url, caBundle: ca.cert });
      await assert.rejects(sink.record(execEvent), /does not name this host/);
    } finally {
      await server.close();
    }
  });

  test('rejects when nothing listens, naming the webhook', async () => {
    const server = await startServer(serverPem, (_req, _body, res) => res.writeHead(200).end());
    const url = server.url;
    await server.close();
    const sink = auditWebhookSink({ url, caBundle: ca.cert });
    await assert.rejects(
      sink.record(execEvent),
      /audit webhook https:\/\/127\.0\.0\.1:\d+\/audit: sending audit-exec failed: .*ECONNREFUSED/,
    );
  });

  test('refuses http: and malformed URLs at construction', () => {
    assert.throws(
      () => auditWebhookSink({ url: 'http://127.0.0.1:9443/audit', caBundle: ca.cert }),
      /audit webhook: URL must use https:/,
    );
    assert.throws(() => auditWebhookSink({ url: 'not a url', caBundle: ca.cert }), /audit webhook: invalid URL/);
  });

  test('refuses a CA bundle without a certificate at construction', () => {
    assert.throws(
      () => auditWebhookSink({ url: 'https://127.0.0.1/audit', caBundle: 'hello' }),
      /audit webhook: CA bundle contains no PEM certificate/,
    );
  });

  test('the protocol runs over any transport (as an edge runtime would use it)', async () => {
    const calls: { url: string; body: string }[] = [];
    const sink = auditSinkOver('https://audit.example/hook', async (req) => {
      calls.push({ url: req.url, body: req.body });
      return { status: calls.length === 1 ? 200 : 503, statusText: '', body: 'busy' };
    });
    await sink.record(execEvent);
    await assert.rejects(
      sink.record(execEvent),
      /audit webhook https:\/\/audit\.example\/hook: audit-exec answered HTTP 503, expected 200: busy/,
    );
    assert.equal(calls[0]!.url, 'https://audit.example/hook?type=audit-exec');
  });
});

describe('readCaBundle', () => {
  test('reads a PEM file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kra-ca-'));
    const file = join(dir, 'ca.crt');
    await writeFile(file, ca.cert);
    assert.equal(readCaBundle(file), ca.cert);
  });

  test('a missing file is a one-line error naming it', () => {
    assert.throws(
      () => readCaBundle('/nonexistent/ca.crt'),
      (error: Error) => {
        assert.equal(error.message, 'cannot read CA bundle /nonexistent/ca.crt: no such file');
        return true;
      },
    );
  });

  test('a file without a certificate is a one-line error naming it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kra-ca-'));
    const file = join(dir, 'ca.crt');
    await writeFile(file, 'not a certificate\n');
    assert.throws(() => readCaBundle(file), new RegExp(`^Error: CA bundle ${file} contains no PEM certificate`));
  });

  test(
    'an unreadable file is a one-line error naming it',
    { skip: process.getuid?.() === 0 ? 'root reads everything' : false },
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'kra-ca-'));
      const file = join(dir, 'ca.crt');
      await writeFile(file, ca.cert);
      await chmod(file, 0o000);
      assert.throws(() => readCaBundle(file), new RegExp(`^Error: cannot read CA bundle ${file}: permission denied$`));
    },
  );
});

describe('audit log sink', () => {
  const clock = () => new Date('2025-01-02T03:04:05.000Z');

  test('writes one JSON line per event with the readable fields first and the full data', async () => {
    const lines: string[] = [];
    const sink = logAuditSink((line) => lines.push(line), { clock });
    await sink.record(execEvent);
    await sink.record(createdEvent);
    await sink.record(grantedEvent);
    assert.equal(lines.length, 3);
    assert.ok(lines.every((line) => line.endsWith('\n') && !line.slice(0, -1).includes('\n')));
    const [exec, created, granted] = lines.map((line) => JSON.parse(line));
    assert.deepEqual(Object.keys(exec).slice(0, 7), ['time', 'log', 'type', 'verdict', 'user', 'namespace', 'name']);
    assert.equal(Object.keys(exec).at(-1), 'data');
    assert.equal(exec.time, '2025-01-02T03:04:05.000Z');
    assert.equal(exec.type, 'audit-exec');
    assert.equal(exec.verdict, 'allowed');
    assert.equal(exec.user, 'alice');
    assert.equal(exec.namespace, 'default');
    assert.equal(exec.name, 'nginx-7fb96c846b-pcnxl');
    assert.deepEqual(exec.command, ['ls', '-l']);
    assert.equal(exec.container, 'nginx');
    assert.equal(exec.admin, false);
    assert.deepEqual(exec.data, execEvent.data);

    assert.equal(created.verdict, 'created');
    assert.equal(created.name, 'alice-ls');
    assert.equal(created.validFor, '1h');
    assert.deepEqual(created.customKeys, { ticket: 'OPS-1' });
    assert.deepEqual(created.data, createdEvent.data);

    assert.equal(granted.verdict, 'granted');
    assert.equal(granted.user, 'bob');
    assert.equal(granted.grantedBy, 'bob');
    assert.equal(granted.requester, 'alice');
    assert.deepEqual(granted.data, grantedEvent.data);
  });

  test('a denied exec and a denied grant say denied', async () => {
    const lines: string[] = [];
    const sink = logAuditSink((line) => lines.push(line), { clock });
    await sink.record({ type: 'audit-exec', data: { ...execEvent.data, isAllowed: false } } as AuditEvent);
    await sink.record({
      type: 'audit-granted',
      data: { ...grantedEvent.data, accessGrant: { ...accessGrant, status: 'denied' } },
    } as AuditEvent);
    assert.deepEqual(
      lines.map((line) => JSON.parse(line).verdict),
      ['denied', 'denied'],
    );
  });

  test('a failing write rejects, so the shell denies', async () => {
    const sink = logAuditSink(() => {
      throw new Error('EPIPE');
    });
    await assert.rejects(sink.record(execEvent), /EPIPE/);
  });
});
