// The extended-validation webhook client against real local HTTPS servers.
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { before, describe, test } from 'node:test';
import { startHttpsServer, type Handler } from '../support/https-server.ts';
import { createCA, type CertificateAuthority, type Pem } from '../support/pki.ts';
import { validatorWebhook } from '../../adapters/validator/webhook.ts';
import { validatorOver } from '../../adapters/validator/protocol.ts';
import type { AccessRequest, AdmissionRequest } from '../../functions/schemas.ts';

const startServer = (pem: Pem, handler: Handler) => startHttpsServer(pem, handler, '/validate');

const json = (res: ServerResponse, status: number, body: unknown) =>
  res
    .writeHead(status, { 'Content-Type': 'application/json' })
    .end(typeof body === 'string' ? body : JSON.stringify(body));

const request: AdmissionRequest = {
  uid: 'b6a1c3e0-0000-4000-8000-000000000002',
  kind: { group: 'kube-request-access.io', version: 'v1', kind: 'AccessRequest' },
  resource: { group: 'kube-request-access.io', version: 'v1', resource: 'accessrequests' },
  subResource: '',
  name: '',
  namespace: 'default',
  operation: 'CREATE',
  userInfo: { username: 'alice', groups: [] },
  dryRun: false,
};
const accessRequest: AccessRequest = {
  metadata: { name: 'alice-ls', namespace: 'default', uid: '', resourceVersion: '' },
  spec: {
    userInfo: { username: 'alice' },
    forObject: {
      resource: { group: '', version: 'v1', resource: 'pods' },
      subResource: 'exec',
      name: 'nginx',
      namespace: 'default',
    },
    validFor: '',
    customKeys: { ticket: 'OPS-1' },
  },
};
const data = { request, accessRequest };

let ca: CertificateAuthority;
let serverPem: Pem;
let otherServerPem: Pem;

before(async () => {
  ca = await createCA();
  serverPem = await ca.issue({ commonName: 'validator', hosts: ['127.0.0.1'] });
  otherServerPem = await (await createCA('impostor')).issue({ commonName: 'validator', hosts: ['127.0.0.1'] });
});

describe('extended-validation webhook client', () => {
  test('posts {Request, AccessRequest} and returns a valid answer', async () => {
    let seen: { method?: string; url?: string; contentType?: string; body?: unknown } = {};
    const server = await startServer(serverPem, (req, body, res) => {
      seen = { method: req.method, url: req.url, contentType: req.headers['content-type'], body: JSON.parse(body) };
      json(res, 200, { status: 'valid', message: 'all is well' });
    });
    try {
      const validate = validatorWebhook({ url: server.url, caBundle: ca.cert });
      assert.deepEqual(await validate.validateAccessRequest(data), { status: 'valid', message: 'all is well' });
      assert.equal(seen.method, 'POST');
      assert.equal(seen.url, '/validate');
      assert.equal(seen.contentType, 'application/json');
      assert.deepEqual(seen.body, { Request: request, AccessRequest: accessRequest });
    } finally {
      await server.close();
    }
  });

  test('returns an invalid answer with its message (the shell turns it into a denial)', async () => {
    const server = await startServer(serverPem, (_req, _body, res) =>
      json(res, 200, { status: 'invalid', message: 'add -k ticket=OPS-123' }),
    );
    try {
      const validate = validatorWebhook({ url: server.url, caBundle: ca.cert });
      assert.deepEqual(await validate.validateAccessRequest(data), {
        status: 'invalid',
        message: 'add -k ticket=OPS-123',
      });
    } finally {
      await server.close();
    }
  });

  test('accepts an answer without a message', async () => {
    const server = await startServer(serverPem, (_req, _body, res) => json(res, 200, { status: 'valid' }));
    try {
      assert.deepEqual(await validatorWebhook({ url: server.url, caBundle: ca.cert }).validateAccessRequest(data), {
        status: 'valid',
      });
    } finally {
      await server.close();
    }
  });

  const badAnswers: { name: string; status: number; body: string; error: RegExp }[] = [
    { name: 'a 500', status: 500, body: 'boom', error: /answered HTTP 500 Internal Server Error, expected 200: boom/ },
    { name: 'a 404', status: 404, body: '', error: /answered HTTP 404 Not Found, expected 200$/ },
    {
      name: 'a 200 that is not JSON',
      status: 200,
      body: '<html>',
      error: /answered with a body that is not JSON: <html>/,
    },
    { name: 'an empty 200', status: 200, body: '', error: /not JSON: \(empty\)/ },
    {
      name: 'an unknown status',
      status: 200,
      body: '{"status":"maybe"}',
      error: /expected \{"status": "valid"\|"invalid".*status: Invalid/,
    },
    { name: 'a missing status', status: 200, body: '{"message":"ok"}', error: /expected \{"status"/ },
    { name: 'a non-string message', status: 200, body: '{"status":"valid","message":3}', error: /message: Invalid/ },
    { name: 'a JSON array', status: 200, body: '[]', error: /expected \{"status"/ },
  ];
  for (const bad of badAnswers) {
    test(`rejects ${bad.name}, naming the webhook`, async () => {
      const server = await startServer(serverPem, (_req, _body, res) => json(res, bad.status, bad.body));
      try {
        const validate = validatorWebhook({ url: server.url, caBundle: ca.cert });
        await assert.rejects(validate.validateAccessRequest(data), (error: Error) => {
          assert.match(error.message, /^extended-validation webhook https:\/\/127\.0\.0\.1:\d+\/validate: /);
          assert.match(error.message, bad.error);
          return true;
        });
      } finally {
        await server.close();
      }
    });
  }

  test('rejects when the webhook does not answer in time', async () => {
    const server = await startServer(serverPem, () => {});
    try {
      const validate = validatorWebhook({ url: server.url, caBundle: ca.cert, timeoutMs: 200 });
      await assert.rejects(
        validate.validateAccessRequest(data),
        /extended-validation webhook .*: no answer within 200ms/,
      );
    } finally {
      await server.close();
    }
  });

  test('rejects a server certificate not signed by the configured CA, without sending the request', async () => {
    let reached = false;
    const server = await startServer(otherServerPem, (_req, _body, res) => {
      reached = true;
      json(res, 200, { status: 'valid' });
    });
    try {
      const validate = validatorWebhook({ url: server.url, caBundle: ca.cert });
      await assert.rejects(
        validate.validateAccessRequest(data),
        /extended-validation webhook .*: TLS: the server certificate is not signed by the configured CA bundle/,
      );
      assert.equal(reached, false);
    } finally {
      await server.close();
    }
  });

  test('rejects when nothing listens', async () => {
    const server = await startServer(serverPem, () => {});
    const url = server.url;
    await server.close();
    await assert.rejects(validatorWebhook({ url, caBundle: ca.cert }).validateAccessRequest(data), /ECONNREFUSED/);
  });

  test('refuses http: URLs at construction', () => {
    assert.throws(
      () => validatorWebhook({ url: 'http://127.0.0.1:10443/validate', caBundle: ca.cert }),
      /^Error: extended-validation webhook: URL must use https:/,
    );
  });

  test('the protocol runs over any transport (as an edge runtime would use it)', async () => {
    const validate = validatorOver('https://validator.example/validate', async (req) => {
      assert.deepEqual(Object.keys(JSON.parse(req.body)), ['Request', 'AccessRequest']);
      return { status: 200, statusText: 'OK', body: '{"status":"invalid","message":"no"}' };
    });
    assert.deepEqual(await validate.validateAccessRequest(data), { status: 'invalid', message: 'no' });
  });
});
