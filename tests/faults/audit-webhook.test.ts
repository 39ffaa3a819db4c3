// A failing audit webhook with a one-shot request (issue 13, item 4), against the real `serve`
// process on 127.0.0.1 and a real HTTPS audit webhook that fails, then recovers: the exec is
// denied and the request is NOT used up; the webhook never accepted an "allowed" for it; once
// the webhook is back the same exec goes through exactly once.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startHttpsServer } from '../support/https-server.ts';
import { createCA, type CertificateAuthority, type Pem } from '../support/pki.ts';
import { execReview, grantedObjects, startMemoryServe } from './_serve.ts';

const dir = mkdtempSync(join(tmpdir(), 'kra-faults-audit-webhook-'));
let ca: CertificateAuthority;
let pem: Pem;

function post(url: string, body: string): Promise<{ allowed: boolean; message: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}/`,
      { method: 'POST', ca: ca.cert, headers: { 'content-type': 'application/json' }, timeout: 10_000 },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          const response = (JSON.parse(text) as { response: { allowed: boolean; status?: { message: string } } })
            .response;
          resolve({ allowed: response.allowed, message: response.status?.message ?? '' });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

before(async () => {
  ca = await createCA('audit-webhook faults');
  pem = await ca.issue({ commonName: 'localhost', hosts: ['127.0.0.1', 'localhost'] });
  writeFileSync(join(dir, 'tls.crt'), pem.cert);
  writeFileSync(join(dir, 'tls.key'), pem.key);
  writeFileSync(join(dir, 'ca.crt'), ca.cert);
  writeFileSync(join(dir, 'objects.json'), JSON.stringify(grantedObjects(Date.now(), { oneShot: true })));
});

after(() => rmSync(dir, { recursive: true, force: true }));

describe('the audit webhook fails with a one-shot request', () => {
  it('denies without using the request up, tells the webhook nothing it accepted as allowed, and allows once when it is back', async () => {
    let failing = true;
    const accepted: { type: string; isAllowed?: boolean }[] = [];
    const refused: { type: string; isAllowed?: boolean }[] = [];
    const webhook = await startHttpsServer(
      pem,
      (req, body, res) => {
        const type = new URL(req.url ?? '/', 'https://x').searchParams.get('type') ?? '';
        const event = { type, isAllowed: (JSON.parse(body) as { isAllowed?: boolean }).isAllowed };
        if (failing) {
          refused.push(event);
          res.writeHead(503).end('down for maintenance');
        } else {
          accepted.push(event);
          res.writeHead(200).end();
        }
      },
      '/audit',
    );
    const server = await startMemoryServe(dir, [
      '--audit-webhook-url',
      webhook.url,
      '--audit-webhook-ca-bundle',
      join(dir, 'ca.crt'),
    ]);
    try {
      const first = await post(server.url, execReview('while-down'));
      assert.equal(first.allowed, false);
      assert.match(first.message, /audit webhook did not accept/);
      assert.deepEqual(refused, [{ type: 'audit-exec', isAllowed: true }], 'it was asked (and refused) once');
      assert.deepEqual(accepted, []);

      failing = false;
      const second = await post(server.url, execReview('back-up'));
      assert.equal(second.allowed, true, `the request was used up by the denied exec: ${second.message}`);
      const third = await post(server.url, execReview('replay'));
      assert.equal(third.allowed, false);
      assert.match(third.message, /was used at .*a one-shot request allows exactly one exec/);
      // What the webhook accepted: exactly one allowed exec, then the replay's denial.
      assert.deepEqual(accepted, [
        { type: 'audit-exec', isAllowed: true },
        { type: 'audit-exec', isAllowed: false },
      ]);
    } finally {
      server.child.kill('SIGKILL');
      await webhook.close();
    }
  });
});
