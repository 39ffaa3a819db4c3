// The extension webhooks' CA bundle in both forms the seed's users have: a CA that signed the
// webhook's certificate, or the webhook's own leaf certificate pinned exactly (the seed's
// --audit-webhook-ca-bundle held the leaf, and compared it with the peer's). A wrong leaf, a
// pinned leaf for another host, or an expired one is refused before any byte of the request leaves.
import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { startHttpsServer } from '../support/https-server.ts';
import { createCA, type CertificateAuthority, type Pem } from '../support/pki.ts';
import { auditWebhookSink } from '../../adapters/audit/webhook.ts';
import { checkCaBundle, httpsTransport, readCaBundle } from '../../adapters/audit/https.ts';
import type { AuditEvent } from '../../functions/types.ts';

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/** A self-signed end-entity certificate (CA:FALSE), as `openssl req -x509` for a server often makes. */
async function selfSignedLeaf(hosts: string[]): Promise<Pem> {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as unknown as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '0a1b2c3d',
    name: 'CN=webhook-auditer',
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(
        hosts.map((h) => (/^[\d.]+$/.test(h) ? { type: 'ip' as const, value: h } : { type: 'dns' as const, value: h })),
      ),
    ],
  });
  const der = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey as unknown as webcrypto.CryptoKey);
  return { cert: cert.toString('pem') + '\n', key: x509.PemConverter.encode(der, 'PRIVATE KEY') };
}

const execEvent: AuditEvent = {
  type: 'audit-exec',
  data: {
    request: {
      uid: 'u-1',
      kind: { group: '', version: 'v1', kind: 'PodExecOptions' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      subResource: 'exec',
      name: 'web-0',
      namespace: 'default',
      operation: 'CONNECT',
      userInfo: { username: 'alice', groups: [] },
      object: null,
      oldObject: null,
      dryRun: false,
    },
    isAllowed: true,
    execOptions: { stdin: false, stdout: true, stderr: true, tty: false, container: 'app', command: ['ls'] },
    isAdmin: false,
  },
};

let ca: CertificateAuthority;
let leaf: Pem;
let sibling: Pem;
let localhostOnly: Pem;
let expired: Pem;
let selfSigned: Pem;
let dir: string;

before(async () => {
  ca = await createCA();
  leaf = await ca.issue({ commonName: 'audit', hosts: ['127.0.0.1', 'localhost'] });
  sibling = await ca.issue({ commonName: 'audit', hosts: ['127.0.0.1', 'localhost'] });
  localhostOnly = await ca.issue({ commonName: 'audit', hosts: ['localhost'] });
  expired = await ca.issue({ commonName: 'audit', hosts: ['127.0.0.1'], days: 0 });
  selfSigned = await selfSignedLeaf(['127.0.0.1', 'localhost']);
  dir = await mkdtemp(join(tmpdir(), 'kra-ca-pin-'));
});
after(() => undefined);

/** Serves `pem`, records what arrives, and answers 200. */
async function serve(pem: Pem) {
  const bodies: string[] = [];
  const server = await startHttpsServer(
    pem,
    (_req, body, res) => {
      bodies.push(body);
      res.writeHead(200).end();
    },
    '/audit',
  );
  return { ...server, bodies };
}

async function record(pem: Pem, caBundle: string) {
  const server = await serve(pem);
  try {
    await auditWebhookSink({ url: server.url, caBundle }).record(execEvent);
    return server.bodies;
  } finally {
    await server.close();
  }
}

async function refused(pem: Pem, caBundle: string, why: RegExp) {
  const server = await serve(pem);
  try {
    await assert.rejects(auditWebhookSink({ url: server.url, caBundle }).record(execEvent), (error: Error) => {
      assert.match(error.message, why);
      return true;
    });
    assert.deepEqual(server.bodies, [], 'nothing of the audit record reached the wrong peer');
  } finally {
    await server.close();
  }
}

describe('CA bundle: a CA (as before)', () => {
  test('a leaf the CA signed is accepted', async () => {
    assert.equal((await record(leaf, ca.cert)).length, 1);
  });
  test('a leaf of another CA is refused as unsigned', async () => {
    const other = await (await createCA('somebody else')).issue({ commonName: 'audit', hosts: ['127.0.0.1'] });
    await refused(other, ca.cert, /not signed by the configured CA bundle/);
  });
});

describe("CA bundle: the webhook's own leaf, pinned exactly (the seed's form)", () => {
  test('OpenSSL alone does not take a CA-signed leaf as its own anchor (why the pin is checked by us)', async () => {
    const server = await serve(leaf);
    try {
      const socket = tls.connect({
        host: '127.0.0.1',
        port: Number(new URL(server.url).port),
        ca: leaf.cert,
        rejectUnauthorized: false,
      });
      await new Promise((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
      assert.equal(socket.authorized, false);
      socket.destroy();
    } finally {
      await server.close();
    }
  });

  test('the CA-signed leaf itself as the bundle is accepted', async () => {
    assert.equal((await record(leaf, leaf.cert)).length, 1);
  });

  test('a self-signed leaf (CA:FALSE) as the bundle is accepted', async () => {
    assert.equal((await record(selfSigned, selfSigned.cert)).length, 1);
  });

  test('read from a file with readCaBundle, as --audit-webhook-ca-bundle does', async () => {
    const file = join(dir, 'webhook.crt');
    await writeFile(file, leaf.cert);
    assert.equal((await record(leaf, readCaBundle(file))).length, 1);
  });

  test('a bundle of several pinned leaves accepts each', async () => {
    assert.equal((await record(sibling, leaf.cert + sibling.cert)).length, 1);
  });

  test('another leaf of the same CA is refused (the pin is the certificate, not its issuer)', async () => {
    await refused(sibling, leaf.cert, /not signed by the configured CA bundle/);
  });

  test('another self-signed leaf is refused', async () => {
    await refused(await selfSignedLeaf(['127.0.0.1']), selfSigned.cert, /TLS/);
  });

  test('the pinned leaf must still name the host', async () => {
    await refused(localhostOnly, localhostOnly.cert, /does not name this host/);
  });

  test('an expired pinned leaf is refused', async () => {
    await new Promise((resolve) => setTimeout(resolve, 20));
    await refused(expired, expired.cert, /expired/);
  });

  test('the same over the bare transport: no request is sent to a refused peer', async () => {
    const server = await serve(sibling);
    try {
      const transport = httpsTransport({ caBundle: leaf.cert });
      await assert.rejects(transport({ url: server.url, headers: {}, body: 'secret' }));
      assert.deepEqual(server.bodies, []);
    } finally {
      await server.close();
    }
  });

  test('checkCaBundle takes a leaf bundle', () => {
    checkCaBundle(leaf.cert, 'audit webhook');
    checkCaBundle(selfSigned.cert, 'audit webhook');
  });
});
