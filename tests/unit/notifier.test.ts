// examples/notifier end to end over HTTPS on 127.0.0.1: the webhook's own audit client sends
// events to the notifier, which posts to a local HTTPS "chat" receiver: one message per new request
// and per decision (none for execs or dry runs), with the grant line and the page hint; retries
// with backoff; a dead-letter line for what never got through.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { auditWebhookSink } from '../../adapters/audit/webhook.ts';
import type { AccessGrant, AccessRequest, AdmissionRequest } from '../../functions/schemas.ts';
import type { AuditEvent } from '../../functions/types.ts';
import { startNotifier, type ServeFlags } from '../../examples/notifier/main.ts';
import { startHttpsServer } from '../support/https-server.ts';
import { createCA, type CertificateAuthority, type Pem } from '../support/pki.ts';

const quiet = () => {};
let ca: CertificateAuthority;
let leaf: Pem;
let dir: string;

const admission = (user: string, over: Partial<AdmissionRequest> = {}): AdmissionRequest => ({
  uid: `uid-${user}`,
  kind: { group: 'kube-request-access.io', version: 'v1', kind: 'AccessRequest' },
  resource: { group: 'kube-request-access.io', version: 'v1', resource: 'accessrequests' },
  subResource: '',
  name: '',
  namespace: 'shop',
  operation: 'CREATE',
  userInfo: { username: user, groups: [] },
  dryRun: false,
  ...over,
});
const accessRequest: AccessRequest = {
  metadata: { name: 'alice-web-0-x2kqp', namespace: 'shop', uid: 'r1', resourceVersion: '' },
  spec: {
    userInfo: { username: 'alice' },
    forObject: {
      resource: { group: '', version: 'v1', resource: 'pods' },
      subResource: 'exec',
      name: 'web-0',
      namespace: 'shop',
    },
    validFor: '30m',
    execOptions: {
      stdin: false,
      stdout: true,
      stderr: true,
      tty: false,
      container: 'app',
      command: ['sh', '-c', 'cat /etc/<x>'],
    },
    customKeys: { ticket: 'OPS-1' },
  },
};
const decision = (status: 'granted' | 'denied', reason?: string): AccessGrant => ({
  metadata: { name: 'alice-web-0-x2kqp-grant', namespace: 'shop', uid: 'g1', resourceVersion: '' },
  spec: {
    grantFor: 'alice-web-0-x2kqp',
    grantForUID: 'r1',
    grantedBy: { username: 'carol' },
    ...(reason ? { reason } : {}),
  },
  status,
});
const created: AuditEvent = { type: 'audit-created', data: { request: admission('alice'), accessRequest } };
const granted: AuditEvent = {
  type: 'audit-granted',
  data: { request: admission('carol'), accessRequest, accessGrant: decision('granted') },
};
const denied: AuditEvent = {
  type: 'audit-granted',
  data: { request: admission('carol'), accessRequest, accessGrant: decision('denied', 'use the replica') },
};
const exec: AuditEvent = {
  type: 'audit-exec',
  data: {
    request: admission('alice', {
      kind: { group: '', version: 'v1', kind: 'PodExecOptions' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      subResource: 'exec',
      name: 'web-0',
      operation: 'CONNECT',
    }),
    isAllowed: true,
    execOptions: accessRequest.spec.execOptions!,
    isAdmin: false,
  },
};
const dryRun: AuditEvent = {
  type: 'audit-created',
  data: { request: admission('alice', { dryRun: true }), accessRequest },
};

/** A local HTTPS chat receiver: answers the statuses given in turn (then 200), records every body. */
async function chat(statuses: number[] = []) {
  const bodies: unknown[] = [];
  const server = await startHttpsServer(
    leaf,
    (_req, body, res) => {
      bodies.push(JSON.parse(body));
      res.writeHead(statuses.shift() ?? 200).end('ok');
    },
    '/services/T0/B0/secret',
  );
  return { ...server, bodies };
}

async function notifier(chatUrl: string, flags: ServeFlags = {}) {
  const caFile = join(dir, 'ca.crt');
  return startNotifier(
    {
      address: '127.0.0.1:0',
      'cert-file': join(dir, 'tls.crt'),
      'key-file': join(dir, 'tls.key'),
      'chat-webhook-url': chatUrl,
      'chat-ca-file': caFile,
      'dead-letter-file': join(dir, 'dead.jsonl'),
      'retry-delay': '5',
      ...flags,
    },
    quiet,
  );
}

before(async () => {
  ca = await createCA();
  leaf = await ca.issue({ commonName: '127.0.0.1', hosts: ['127.0.0.1'] });
  dir = await mkdtemp(join(tmpdir(), 'kra-notifier-'));
  await writeFile(join(dir, 'tls.crt'), leaf.cert);
  await writeFile(join(dir, 'tls.key'), leaf.key);
  await writeFile(join(dir, 'ca.crt'), ca.cert);
});

describe('notifier', () => {
  test('posts one Slack message per new request and per decision, none for execs and dry runs', async () => {
    const receiver = await chat();
    const server = await notifier(receiver.url);
    try {
      const sink = auditWebhookSink({ url: `${server.url}/audit`, caBundle: ca.cert });
      for (const event of [created, exec, dryRun, granted, denied]) await sink.record(event);
      await server.deliverer.drain();
    } finally {
      await server.close();
      await receiver.close();
    }
    assert.equal(receiver.bodies.length, 3, JSON.stringify(receiver.bodies));
    const [request, grant, deny] = receiver.bodies.map((b) => JSON.stringify(b));
    const first = receiver.bodies[0] as { text: string; blocks: { type: string }[] };
    assert.match(
      first.text,
      /^alice requests exec of sh -c 'cat \/etc\/&lt;x&gt;' in shop\/web-0 \(container app\), 30m/,
    );
    assert.ok(first.blocks.some((b) => b.type === 'section'));
    for (const field of [
      '*Who*\\nalice',
      '*Pod*\\nshop/web-0',
      '*Container*\\napp',
      '*Window*\\n30m',
      '`sh` `-c` `cat /etc/&lt;x&gt;`',
      'ticket=OPS-1',
      '`kubectl request grant -n shop alice-web-0-x2kqp`',
      '`kubectl request ui`',
    ]) {
      assert.ok(request!.includes(field), `${field} in ${request}`);
    }
    assert.match(grant!, /carol granted alice's request shop\/alice-web-0-x2kqp \(30m\)/);
    assert.match(grant!, /alice runs: `kubectl exec -n shop web-0 -c app -- sh -c 'cat \/etc\/&lt;x&gt;'`/);
    assert.match(deny!, /carol denied alice's request shop\/alice-web-0-x2kqp: use the replica/);
    assert.match(deny!, /\*Decided by\*\\ncarol/);
  });

  test('the generic format posts the event as plain JSON', async () => {
    const receiver = await chat();
    const server = await notifier(receiver.url, { format: 'generic' });
    try {
      const sink = auditWebhookSink({ url: `${server.url}/audit`, caBundle: ca.cert });
      await sink.record(created);
      await sink.record(denied);
      await server.deliverer.drain();
    } finally {
      await server.close();
      await receiver.close();
    }
    assert.equal(receiver.bodies.length, 2);
    assert.deepEqual(receiver.bodies[0], {
      text: "alice requests exec of sh -c 'cat /etc/<x>' in shop/web-0 (container app), 30m",
      event: 'request',
      namespace: 'shop',
      name: 'alice-web-0-x2kqp',
      requester: 'alice',
      pod: 'web-0',
      subResource: 'exec',
      container: 'app',
      command: ['sh', '-c', 'cat /etc/<x>'],
      window: '30m',
      customKeys: { ticket: 'OPS-1' },
      grantCommand: 'kubectl request grant -n shop alice-web-0-x2kqp',
      uiCommand: 'kubectl request ui',
      runCommand: "kubectl exec -n shop web-0 -c app -- sh -c 'cat /etc/<x>'",
    });
    assert.equal((receiver.bodies[1] as { event: string }).event, 'denied');
    assert.equal((receiver.bodies[1] as { decidedBy: string }).decidedBy, 'carol');
    assert.equal((receiver.bodies[1] as { reason: string }).reason, 'use the replica');
  });

  test('retries with backoff until the chat answers 2xx; nothing is dead-lettered', async () => {
    const receiver = await chat([503, 500]);
    const server = await notifier(receiver.url, { 'dead-letter-file': join(dir, 'retry-dead.jsonl') });
    try {
      await auditWebhookSink({ url: `${server.url}/audit`, caBundle: ca.cert }).record(created);
      await server.deliverer.drain();
    } finally {
      await server.close();
      await receiver.close();
    }
    assert.equal(receiver.bodies.length, 3, 'two failures, then delivered');
    await assert.rejects(readFile(join(dir, 'retry-dead.jsonl'), 'utf8'), /ENOENT/);
  });

  test('writes what never got through to the dead-letter file, the URL redacted; a 4xx is not retried', async () => {
    const file = join(dir, 'fail-dead.jsonl');
    const receiver = await chat([500, 500, 500, 400]);
    const server = await notifier(receiver.url, { attempts: '3', 'dead-letter-file': file });
    try {
      const sink = auditWebhookSink({ url: `${server.url}/audit`, caBundle: ca.cert });
      await sink.record(created);
      await server.deliverer.drain();
      await sink.record(granted);
      await server.deliverer.drain();
    } finally {
      await server.close();
      await receiver.close();
    }
    assert.equal(receiver.bodies.length, 4, 'three attempts for the first, one for the 400');
    const lines = (await readFile(file, 'utf8'))
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line));
    assert.equal(lines.length, 2);
    assert.equal(lines[0].error, 'chat webhook answered HTTP 500');
    assert.equal(lines[0].event, 'request');
    assert.equal(lines[0].request, 'shop/alice-web-0-x2kqp');
    assert.match(JSON.stringify(lines[0].payload), /kubectl request grant -n shop alice-web-0-x2kqp/);
    assert.equal(lines[1].error, 'chat webhook answered HTTP 400');
    assert.equal(lines[1].event, 'granted');
    for (const line of lines) assert.doesNotMatch(line.url, /secret/);
  });

  test('a chat receiver whose certificate is not trusted counts as a failure', async () => {
    const file = join(dir, 'tls-dead.jsonl');
    const receiver = await chat();
    const other = await createCA('another CA');
    await writeFile(join(dir, 'other-ca.crt'), other.cert);
    const server = await notifier(receiver.url, {
      attempts: '2',
      'dead-letter-file': file,
      'chat-ca-file': join(dir, 'other-ca.crt'),
    });
    try {
      await auditWebhookSink({ url: `${server.url}/audit`, caBundle: ca.cert }).record(created);
      await server.deliverer.drain();
    } finally {
      await server.close();
      await receiver.close();
    }
    assert.equal(receiver.bodies.length, 0);
    assert.match(await readFile(file, 'utf8'), /certificate/);
  });
});
