// Issue 8: both example extension webhooks as real HTTPS servers, and the main server configured
// against them. The apiserver's part (persisting admitted objects) is played by adding them to
// the in-memory cluster after each allowed CREATE.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { httpsEndpoint } from '../../adapters/audit/https.ts';
import { composeReviewer } from '../../adapters/compose.ts';
import { createApp } from '../../adapters/http/app.ts';
import { silentLogger } from '../../adapters/log.ts';
import { MemoryCluster } from '../../adapters/memory/lookup.ts';
import { startServe } from '../../adapters/node/serve.ts';
import { startHttpsServer, type RunningServer } from '../../adapters/node/server.ts';
import type { AdmissionRequest } from '../../functions/schemas.ts';
import { DEFAULT_CONFIG } from '../../functions/types.ts';
import { startAuditWebhook } from '../../examples/audit-webhook/main.ts';
import { runVerify } from '../../examples/audit-webhook/main.ts';
import { startValidatorWebhook } from '../../examples/validator-webhook/main.ts';
import { accessGrant, accessRequest, execReview, NOW, objectReview, users } from '../support/builders.ts';
import { createCA, type CertificateAuthority } from '../support/pki.ts';

const root = new URL('../..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'kra-extensions-'));
const quiet = () => {};
const tlsFlags = () => ({ 'cert-file': join(dir, 'tls.crt'), 'key-file': join(dir, 'tls.key') });
let ca: CertificateAuthority;
let validator: { url: string; close(): Promise<void> };

function review(
  url: string,
  request: AdmissionRequest | string,
): Promise<{ allowed: boolean; code: number; message: string }> {
  const body =
    typeof request === 'string'
      ? request
      : JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request });
  return new Promise((resolve, reject) => {
    const req = https.request(
      `${url}/`,
      { method: 'POST', ca: ca.cert, agent: false, headers: { 'Content-Type': 'application/json' } },
      (res) => {
        let text = '';
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => {
          try {
            assert.equal(res.statusCode, 200, text);
            const { response } = JSON.parse(text) as {
              response: { allowed: boolean; status?: { code: number; message: string } };
            };
            resolve({
              allowed: response.allowed,
              code: response.status?.code ?? 0,
              message: response.status?.message ?? '',
            });
          } catch (error) {
            reject(error);
          }
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const auditTypes = (file: string) =>
  readFileSync(file, 'utf8')
    .trimEnd()
    .split('\n')
    .filter(Boolean)
    .map((line) => (JSON.parse(line) as { type: string }).type);

before(async () => {
  ca = await createCA();
  const leaf = await ca.issue({ commonName: 'localhost', hosts: ['127.0.0.1', 'localhost'] });
  writeFileSync(join(dir, 'tls.crt'), leaf.cert);
  writeFileSync(join(dir, 'tls.key'), leaf.key);
  writeFileSync(join(dir, 'ca.crt'), ca.cert);
  validator = await startValidatorWebhook(
    { address: '127.0.0.1:0', ...tlsFlags(), 'ticket-pattern': '^[A-Z]+-[0-9]+$' },
    quiet,
  );
});

after(async () => {
  await validator.close();
});

describe('extension webhooks with the main server', () => {
  test('a request without ticket is refused with the validator message; created → granted → exec are chained in order; audit webhook down → exec denied', async () => {
    const file = join(dir, 'flow.jsonl');
    const auditWebhook = await startAuditWebhook({ address: '127.0.0.1:0', ...tlsFlags(), file }, quiet);
    const cluster = new MemoryCluster();
    const auditLog: string[] = [];
    // The server's own composition (adapters/compose.ts), over node:https to both examples.
    const app = createApp(
      await composeReviewer({
        cluster,
        effects: cluster,
        settings: DEFAULT_CONFIG,
        auditWebhook: httpsEndpoint({ url: `${auditWebhook.url}/audit`, caBundle: ca.cert }, 'audit webhook'),
        validationWebhook: httpsEndpoint(
          { url: `${validator.url}/validate`, caBundle: ca.cert },
          'extended-validation webhook',
        ),
        auditLog: (line) => auditLog.push(line),
        clock: () => NOW,
      }),
    );
    let main: RunningServer | undefined;
    try {
      main = await startHttpsServer({
        app,
        address: '127.0.0.1:0',
        tls: { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') },
        logger: silentLogger,
      });

      const withoutTicket = accessRequest({ name: 'alice-cat', validFor: '1h', createdAt: NOW.toISOString() });
      const refused = await review(main.url, objectReview(withoutTicket, { user: users.alice }));
      assert.equal(refused.allowed, false);
      assert.match(
        refused.message,
        /validation webhook: a ticket is required: add -k ticket=OPS-123 to kubectl request exec/,
      );

      const withTicket = accessRequest({
        name: 'alice-cat',
        validFor: '1h',
        createdAt: NOW.toISOString(),
        customKeys: { ticket: 'OPS-42' },
      });
      const created = await review(main.url, objectReview(withTicket, { user: users.alice }));
      assert.equal(created.allowed, true, created.message);
      cluster.add(withTicket);

      const grant = accessGrant({ grantFor: 'alice-cat', grantedBy: 'carol', createdAt: NOW.toISOString() });
      const granted = await review(main.url, objectReview(grant, { user: users.carol }));
      assert.equal(granted.allowed, true, granted.message);
      cluster.add(grant);

      const exec = await review(main.url, execReview({ user: users.alice }));
      assert.equal(exec.allowed, true, exec.message);

      assert.deepEqual(auditTypes(file), ['audit-created', 'audit-granted', 'audit-exec']);
      const lines = readFileSync(file, 'utf8')
        .trimEnd()
        .split('\n')
        .map(
          (line) => JSON.parse(line) as { data: { accessRequest?: { spec: { customKeys?: Record<string, string> } } } },
        );
      assert.deepEqual(lines[0]!.data.accessRequest?.spec.customKeys, { ticket: 'OPS-42' });
      const verified = await runVerify(file);
      assert.equal(verified.code, 0, verified.output);
      // The always-on log saw the same three events.
      assert.deepEqual(
        auditLog.map((line) => (JSON.parse(line) as { type: string }).type),
        ['audit-created', 'audit-granted', 'audit-exec'],
      );

      await auditWebhook.close();
      const unaudited = await review(
        main.url,
        execReview({ user: users.alice, uid: 'e1b2c3d4-0000-4000-8000-000000000009' }),
      );
      assert.equal(unaudited.allowed, false);
      assert.equal(unaudited.code, 500);
      assert.match(unaudited.message, /audit webhook/);
      assert.deepEqual(auditTypes(file), ['audit-created', 'audit-granted', 'audit-exec']);
      // The audit log records the verdict the failed webhook left: denied.
      const last = JSON.parse(auditLog.at(-1)!) as { type: string; verdict: string; uid: string };
      assert.deepEqual(
        [last.type, last.verdict, last.uid],
        ['audit-exec', 'denied', 'e1b2c3d4-0000-4000-8000-000000000009'],
      );
    } finally {
      await main?.close(0);
      await auditWebhook.close();
    }
  });

  test('serve --audit-webhook-url/--extended-validation-webhook-url wire both examples', async () => {
    const file = join(dir, 'serve.jsonl');
    const auditWebhook = await startAuditWebhook({ address: '127.0.0.1:0', ...tlsFlags(), file }, quiet);
    let server: Awaited<ReturnType<typeof startServe>> | undefined;
    try {
      server = await startServe(
        {
          address: '127.0.0.1:0',
          ...tlsFlags(),
          objects: join(root, 'tests/fixtures/objects.json'),
          'audit-webhook-url': `${auditWebhook.url}/audit`,
          'audit-webhook-ca-bundle': join(dir, 'ca.crt'),
          'extended-validation-webhook-url': `${validator.url}/validate`,
          'extended-validation-webhook-ca-bundle': join(dir, 'ca.crt'),
        },
        silentLogger,
      );
      const refused = await review(
        server.url,
        objectReview(accessRequest({ name: 'alice-other', namespace: 'team-a' }), { user: users.alice }),
      );
      assert.equal(refused.allowed, false);
      assert.match(refused.message, /add -k ticket=OPS-123 to kubectl request exec/);

      // Audit webhook down: the granted one-shot exec of the fixture is denied.
      await auditWebhook.close();
      const fixture = readFileSync(join(root, 'tests/fixtures/exec-review.json'), 'utf8');
      const denied = await review(server.url, fixture);
      assert.equal(denied.allowed, false);
      assert.match(denied.message, /audit webhook/);
      assert.deepEqual(readFileSync(file, 'utf8'), '');
    } finally {
      await server?.close(0);
      await auditWebhook.close();
    }
  });

  test('serve refuses a missing CA bundle with a one-line error naming the file', async () => {
    await assert.rejects(
      startServe(
        {
          address: '127.0.0.1:0',
          ...tlsFlags(),
          objects: join(root, 'tests/fixtures/objects.json'),
          'audit-webhook-url': 'https://127.0.0.1:1/audit',
          'audit-webhook-ca-bundle': join(dir, 'missing-ca.crt'),
        },
        silentLogger,
      ),
      /missing-ca\.crt: no such file/,
    );
  });
});
