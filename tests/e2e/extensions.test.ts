// Issue 8 end to end: a real kube-apiserver calls kube-request-access, which is configured against
// both example extension webhooks (real HTTPS servers), and users act through the real kubectl.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startControlPlane, type ControlPlane } from '../controlplane/cluster.ts';
import { runVerify, startAuditWebhook, type RunningAuditWebhook } from '../../examples/audit-webhook/main.ts';
import { startValidatorWebhook } from '../../examples/validator-webhook/main.ts';
import type { Running } from '../../examples/shared/https.ts';

const quiet = () => {};
let cp: ControlPlane;
let dir: string;
let auditFile: string;
let audit: RunningAuditWebhook | undefined;
let validator: Running | undefined;

const accessRequest = (name: string, customKeys?: Record<string, string>) => ({
  apiVersion: 'kube-request-access.io/v1',
  kind: 'AccessRequest',
  metadata: { name, namespace: 'team-a' },
  spec: {
    userInfo: { username: 'alice' },
    forObject: {
      resource: { group: '', version: 'v1', resource: 'pods' },
      subResource: 'exec',
      name: 'web-0',
      namespace: 'team-a',
    },
    validFor: '1h',
    execOptions: { container: 'app', command: ['cat', '/app/config'], stdout: true, stderr: true },
    ...(customKeys ? { customKeys } : {}),
  },
});

const auditTypes = () =>
  readFileSync(auditFile, 'utf8')
    .trimEnd()
    .split('\n')
    .filter(Boolean)
    .map((line) => (JSON.parse(line) as { type: string }).type);

const execAsAlice = () =>
  cp.kubectl('alice', ['exec', '-n', 'team-a', 'web-0', '-c', 'app', '--', 'cat', '/app/config']);

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kra-e2e-extensions-'));
  auditFile = path.join(dir, 'audit.jsonl');
  cp = await startControlPlane({ dir, developersCanExec: true, log: (line) => console.error(`# ${line}`) });
  // The examples serve with the certificate the control plane made for 127.0.0.1, signed by its CA.
  const tls = { 'cert-file': cp.webhookCert, 'key-file': cp.webhookKey };
  validator = await startValidatorWebhook(
    { address: '127.0.0.1:0', ...tls, 'ticket-pattern': '^[A-Z]+-[0-9]+$' },
    quiet,
  );
  audit = await startAuditWebhook({ address: '127.0.0.1:0', ...tls, file: auditFile }, quiet);
  await cp.startWebhook([
    '--audit-webhook-url',
    `${audit.url}/audit`,
    '--audit-webhook-ca-bundle',
    cp.caFile,
    '--extended-validation-webhook-url',
    `${validator.url}/validate`,
    '--extended-validation-webhook-ca-bundle',
    cp.caFile,
  ]);
  await cp.apply({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web-0', namespace: 'team-a' },
    spec: { containers: [{ name: 'app', image: 'busybox' }] },
  });
});

after(async () => {
  await cp?.stop();
  await audit?.close();
  await validator?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('extension webhooks against a real kube-apiserver', () => {
  it('refuses an AccessRequest without ticket with the validator message', async () => {
    const result = await cp.kubectl('alice', ['create', '-f', '-'], {
      input: JSON.stringify(accessRequest('alice-no-ticket')),
    });
    assert.notEqual(result.code, 0);
    assert.match(
      result.stderr,
      /denied the request: .*a ticket is required: add -k ticket=OPS-123 to kubectl request exec/,
    );
  });

  it('chains created → granted → exec in the audit file, and verify passes', async () => {
    // A label another tool put on the request: the audit webhook gets it with every event.
    const labelled = accessRequest('alice-cat', { ticket: 'OPS-42' });
    const labels = { 'cost.example.com/centre': 'payments' };
    const created = await cp.kubectl('alice', ['create', '-f', '-', '-o', 'jsonpath={.metadata.uid}'], {
      input: JSON.stringify({ ...labelled, metadata: { ...labelled.metadata, labels } }),
    });
    assert.equal(created.code, 0, created.stderr);
    const grant = {
      apiVersion: 'kube-request-access.io/v1',
      kind: 'AccessGrant',
      metadata: { name: 'alice-cat', namespace: 'team-a' },
      spec: { grantFor: 'alice-cat', grantForUID: created.stdout, grantedBy: { username: 'carol' } },
      status: 'granted',
    };
    // A dry run first: the audit webhook (an organisation's notifier) must hear nothing of it.
    const dry = await cp.kubectl('carol', ['create', '-f', '-', '--dry-run=server'], { input: JSON.stringify(grant) });
    assert.equal(dry.code, 0, dry.stderr);
    assert.deepEqual(auditTypes(), ['audit-created']);
    const granted = await cp.kubectl('carol', ['create', '-f', '-'], { input: JSON.stringify(grant) });
    assert.equal(granted.code, 0, granted.stderr);

    const exec = await execAsAlice();
    // Allowed: admission passed, and the pod has no node to run the command on.
    assert.match(exec.stderr, /does not have a host assigned/, exec.stderr);

    const types = auditTypes();
    assert.deepEqual(types.slice(0, 3), ['audit-created', 'audit-granted', 'audit-exec']);
    // audit-granted's AccessRequest comes from the server's cache, which keeps labels and annotations.
    const lines = readFileSync(auditFile, 'utf8').trimEnd().split('\n');
    const grantedEvent = (JSON.parse(lines[1]!) as { data: { accessRequest?: { metadata?: Record<string, unknown> } } })
      .data;
    assert.deepEqual(grantedEvent.accessRequest?.metadata?.labels, labels, lines[1]);
    assert.equal(grantedEvent.accessRequest?.metadata?.uid, created.stdout);
    // kubectl may try WebSocket, then SPDY: every further line is that same exec.
    assert.ok(
      types.slice(3).every((type) => type === 'audit-exec'),
      types.join(', '),
    );
    const verified = await runVerify(auditFile);
    assert.equal(verified.code, 0, verified.output);
  });

  it('denies the exec while the audit webhook is down', async () => {
    const before = auditTypes().length;
    await audit!.close();
    audit = undefined;
    const exec = await execAsAlice();
    assert.notEqual(exec.code, 0);
    assert.doesNotMatch(exec.stderr, /does not have a host assigned/);
    assert.match(exec.stderr, /audit webhook/, exec.stderr);
    assert.equal(auditTypes().length, before);
  });
});
