// The Node server's own Kubernetes client: the configuration loader (adapters/kubernetes/config.ts:
// kubeconfig files, in-cluster, token files, exec credential plugins), the transport over
// node:https (client.ts: CA, client certificates, bearer tokens, errors in the shape errors.ts
// reads, the 429 retry, merge patches) and the watch stream's parser (rest.ts). Servers on
// 127.0.0.1 only; the exec plugin is a tiny node script.
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { stringify } from 'yaml';
import { nodeKubernetesClient } from '../../../adapters/kubernetes/client.ts';
import { clusterConfig, fileToken, loadKubeConfig } from '../../../adapters/kubernetes/config.ts';
import { watchLines, type WatchEvent } from '../../../adapters/kubernetes/rest.ts';
import { isNotFound, KubernetesApiError, statusOf } from '../../../adapters/errors.ts';
import { createCA, type CertificateAuthority, type Pem } from '../../support/pki.ts';

const b64 = (text: string) => Buffer.from(text).toString('base64');

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
  clientCN?: string;
}

describe('Kubernetes client of the Node server', () => {
  let dir: string;
  let ca: CertificateAuthority;
  let serverPem: Pem;
  let clientPem: Pem;
  let server: https.Server;
  let url: string;
  const seen: Seen[] = [];
  let answer: (req: IncomingMessage, res: ServerResponse, body: string) => void = (_req, res) =>
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'kra-client-'));
    ca = await createCA();
    serverPem = await ca.issue({ commonName: 'apiserver', hosts: ['127.0.0.1'] });
    clientPem = await ca.issue({ commonName: 'alice', client: true });
    server = https.createServer(
      { cert: serverPem.cert, key: serverPem.key, ca: ca.cert, requestCert: true, rejectUnauthorized: false },
      (req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const peer = (req.socket as TLSSocket).getPeerCertificate();
          const body = Buffer.concat(chunks).toString('utf8');
          seen.push({
            method: req.method ?? '',
            url: req.url ?? '',
            headers: req.headers,
            body,
            ...(peer?.subject?.CN ? { clientCN: String(peer.subject.CN) } : {}),
          });
          answer(req, res, body);
        });
      },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  async function kubeconfig(name: string, users: Record<string, unknown>, extra: Record<string, unknown> = {}) {
    const file = path.join(dir, name);
    await writeFile(
      file,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'local', cluster: { server: url, 'certificate-authority-data': b64(ca.cert) } }],
        users: Object.entries(users).map(([user, value]) => ({ name: user, user: value })),
        contexts: Object.keys(users).map((user) => ({ name: user, context: { cluster: 'local', user } })),
        'current-context': Object.keys(users)[0],
        ...extra,
      }),
    );
    return file;
  }

  it('reads a kubeconfig: the CA, a token, the current context or --context', async () => {
    const file = await kubeconfig('tokens', { admin: { token: 'admin-token' }, bob: { token: 'bob-token' } });
    seen.length = 0;
    await nodeKubernetesClient(loadKubeConfig({ kubeconfig: file })).get('/api/v1/namespaces/a/pods/p');
    await nodeKubernetesClient(loadKubeConfig({ kubeconfig: file, context: 'bob' })).get('/x', { limit: '2' });
    assert.deepEqual(
      seen.map((s) => [s.method, s.url, s.headers.authorization]),
      [
        ['GET', '/api/v1/namespaces/a/pods/p', 'Bearer admin-token'],
        ['GET', '/x?limit=2', 'Bearer bob-token'],
      ],
    );
    assert.throws(() => loadKubeConfig({ kubeconfig: file, context: 'carol' }), /no context carol/);
  });

  it('presents a client certificate (files relative to the kubeconfig, or -data)', async () => {
    await writeFile(path.join(dir, 'alice.crt'), clientPem.cert);
    await writeFile(path.join(dir, 'alice.key'), clientPem.key);
    await writeFile(path.join(dir, 'ca.crt'), ca.cert);
    const file = path.join(dir, 'certs');
    await writeFile(
      file,
      stringify({
        clusters: [{ name: 'c', cluster: { server: url, 'certificate-authority': 'ca.crt' } }],
        users: [
          { name: 'files', user: { 'client-certificate': 'alice.crt', 'client-key': 'alice.key' } },
          {
            name: 'data',
            user: { 'client-certificate-data': b64(clientPem.cert), 'client-key-data': b64(clientPem.key) },
          },
        ],
        contexts: [
          { name: 'files', context: { cluster: 'c', user: 'files' } },
          { name: 'data', context: { cluster: 'c', user: 'data' } },
        ],
        'current-context': 'files',
      }),
    );
    seen.length = 0;
    await nodeKubernetesClient(loadKubeConfig({ kubeconfig: file })).get('/a');
    await nodeKubernetesClient(loadKubeConfig({ kubeconfig: file, context: 'data' })).get('/b');
    assert.deepEqual(
      seen.map((s) => [s.url, s.clientCN, s.headers.authorization]),
      [
        ['/a', 'alice', undefined],
        ['/b', 'alice', undefined],
      ],
    );
  });

  it('refuses a server whose certificate the CA did not sign, unless insecure-skip-tls-verify', async () => {
    const other = await createCA('another CA');
    const strict = nodeKubernetesClient(clusterConfig({ server: url, ca: other.cert, token: 't' }));
    await assert.rejects(
      strict.get('/a'),
      (error: Error) => statusOf(error) === undefined && /certificate/i.test(error.message),
    );
    const file = path.join(dir, 'insecure');
    await writeFile(
      file,
      stringify({
        clusters: [{ name: 'c', cluster: { server: url, 'insecure-skip-tls-verify': true } }],
        users: [{ name: 'u', user: { token: 't' } }],
        contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'x',
      }),
    );
    assert.deepEqual(await nodeKubernetesClient(loadKubeConfig({ kubeconfig: file })).get('/a'), { ok: true });
  });

  it('refuses a certificate authority together with insecure-skip-tls-verify, as kubectl does', async () => {
    const file = path.join(dir, 'both');
    await writeFile(
      file,
      stringify({
        clusters: [
          {
            name: 'c',
            cluster: { server: url, 'certificate-authority-data': b64(ca.cert), 'insecure-skip-tls-verify': true },
          },
        ],
        users: [{ name: 'u', user: { token: 't' } }],
        contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'x',
      }),
    );
    assert.throws(
      () => loadKubeConfig({ kubeconfig: file }),
      /both a certificate authority and insecure-skip-tls-verify/,
    );
  });

  it('lets a call under way finish when the client certificate changes, and uses the new one after', async () => {
    const bob = await ca.issue({ commonName: 'bob', client: true });
    let current: Pem = clientPem;
    const client = nodeKubernetesClient({ server: url, ca: ca.cert, credentials: async () => ({ ...current }) });
    const previous = answer;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    answer = (req, res) => {
      const reply = () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      if (req.url === '/slow') void held.then(reply);
      else reply();
    };
    try {
      seen.length = 0;
      const slow = client.get('/slow');
      await new Promise((resolve) => setTimeout(resolve, 50));
      current = bob; // an exec plugin handed out a new certificate
      assert.deepEqual(await client.get('/after'), { ok: true });
      release();
      assert.deepEqual(await slow, { ok: true }, 'the call on the old certificate was not cut');
      assert.deepEqual(
        seen.map((s) => [s.url, s.clientCN]),
        [
          ['/slow', 'alice'],
          ['/after', 'bob'],
        ],
      );
    } finally {
      answer = previous;
    }
  });

  it(
    'cuts a watch whose headers do not come within the call timeout, and then keeps streaming one that opened',
    { timeout: 10_000 },
    async () => {
      const previous = answer;
      answer = (req, res) => {
        if (req.url?.startsWith('/hung')) return; // never answers
        res.writeHead(200, { 'content-type': 'application/json' }).flushHeaders(); // as the apiserver does
        setTimeout(() => res.end(`${JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'a' } } })}\n`), 300);
      };
      try {
        const client = nodeKubernetesClient(clusterConfig({ server: url, ca: ca.cert, token: 't' }), {
          timeoutMs: 150,
        });
        const hung = await new Promise<unknown>((resolve) => void client.watch('/hung', {}, () => {}, resolve));
        assert.match(String(hung), /no answer within 150ms/);
        const events: string[] = [];
        const ended = await new Promise<unknown>(
          (resolve) => void client.watch('/open', {}, (type) => events.push(type), resolve),
        );
        assert.equal(ended, undefined, 'an open watch outlives the call timeout');
        assert.deepEqual(events, ['ADDED']);
      } finally {
        answer = previous;
      }
    },
  );

  it('never sends a token or a client certificate over plain http', async () => {
    const plain = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    for (const credentials of [{ token: 't' }, { cert: clientPem.cert, key: clientPem.key }]) {
      await assert.rejects(
        nodeKubernetesClient(clusterConfig({ server: plain, ...credentials })).get('/a'),
        /refusing to send credentials to http:\/\/127\.0\.0\.1:\d+ over plain http; use an https:\/\/ server/,
      );
    }
  });

  it('merges the files of KUBECONFIG (the first to name a context wins) and says when nothing is configured', async () => {
    const first = await kubeconfig('first', { admin: { token: 'first' } });
    const second = await kubeconfig(
      'second',
      { admin: { token: 'second' }, bob: { token: 'bob-2' } },
      {
        'current-context': 'bob',
      },
    );
    const env = { KUBECONFIG: [path.join(dir, 'missing'), first, second].join(path.delimiter), HOME: dir };
    seen.length = 0;
    await nodeKubernetesClient(loadKubeConfig({ env })).get('/a');
    await nodeKubernetesClient(loadKubeConfig({ env, context: 'bob' })).get('/b');
    assert.deepEqual(
      seen.map((s) => s.headers.authorization),
      ['Bearer first', 'Bearer bob-2'],
    );
    assert.throws(() => loadKubeConfig({ env: { HOME: dir } }), /no Kubernetes cluster configured: pass --kubeconfig/);
  });

  it('refuses at start what it does not support, saying what is', async () => {
    const provider = await kubeconfig('provider', { admin: { 'auth-provider': { name: 'oidc' } } });
    assert.throws(
      () => loadKubeConfig({ kubeconfig: provider }),
      /auth-provider, which is not supported \(supported: token, tokenFile, client-certificate/,
    );
    const basic = await kubeconfig('basic', { admin: { username: 'a', password: 'b' } });
    assert.throws(() => loadKubeConfig({ kubeconfig: basic }), /username\/password, which is not supported/);
    const oldExec = await kubeconfig('oldexec', {
      admin: { exec: { apiVersion: 'client.authentication.k8s.io/v1alpha1', command: 'x' } },
    });
    assert.throws(() => loadKubeConfig({ kubeconfig: oldExec }), /v1alpha1 is not supported/);
  });

  it('in a pod: the service account token, CA and KUBERNETES_SERVICE_HOST (an IPv6 host in brackets)', async () => {
    const sa = path.join(dir, 'sa');
    await import('node:fs/promises').then((fs) => fs.mkdir(sa, { recursive: true }));
    await writeFile(path.join(sa, 'token'), 'sa-token\n');
    await writeFile(path.join(sa, 'ca.crt'), ca.cert);
    const v6 = loadKubeConfig({
      env: { HOME: dir, KUBERNETES_SERVICE_HOST: '::1', KUBERNETES_SERVICE_PORT: '6443' },
      serviceAccountDir: sa,
    });
    assert.equal(v6.server, 'https://[::1]:6443');
    assert.equal(v6.ca, ca.cert);
    assert.deepEqual(await v6.credentials(), { token: 'sa-token' });
    const { port } = new URL(url);
    const v4 = loadKubeConfig({
      env: { HOME: dir, KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: port },
      serviceAccountDir: sa,
    });
    seen.length = 0;
    await nodeKubernetesClient(v4).get('/a');
    assert.equal(seen[0]?.headers.authorization, 'Bearer sa-token');
  });

  it('reads a token file again once a minute, and at once when the token it held expired', async () => {
    const file = path.join(dir, 'rotating');
    const jwt = (exp: number, tag: string) => `h.${Buffer.from(JSON.stringify({ exp, tag })).toString('base64url')}.s`;
    let now = 1_000_000_000;
    const first = jwt(now / 1000 + 30, 'first');
    await writeFile(file, first);
    const token = fileToken(file, () => now);
    assert.equal(token.get(), first);
    const second = jwt(now / 1000 + 3600, 'second');
    await writeFile(file, second);
    now += 10_000;
    assert.equal(token.get(), first, 'not read again within the minute while valid');
    now += 25_000; // the first token expired
    assert.equal(token.get(), second);
    await writeFile(file, 'third');
    now += 59_000;
    assert.equal(token.get(), second);
    now += 1_000;
    assert.equal(token.get(), 'third');
  });

  for (const apiVersion of ['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1']) {
    it(`runs an exec credential plugin (${apiVersion.split('/')[1]}) and keeps its token until it expires`, async () => {
      const tag = apiVersion.split('/')[1]!;
      const counter = path.join(dir, `exec-${tag}.count`);
      const plugin = path.join(dir, `plugin-${tag}.mjs`);
      await writeFile(
        plugin,
        `import { readFileSync, writeFileSync } from 'node:fs';
const file = process.argv[2];
let n = 0;
try { n = Number(readFileSync(file, 'utf8')); } catch {}
writeFileSync(file, String(++n));
const info = JSON.parse(process.env.KUBERNETES_EXEC_INFO);
if (info.spec.interactive !== false) process.exit(3);
const expires = new Date(Date.now() + Number(process.env.LIFETIME_MS)).toISOString();
process.stdout.write(JSON.stringify({ apiVersion: info.apiVersion, kind: 'ExecCredential',
  status: { token: process.env.PREFIX + '-' + n, expirationTimestamp: expires } }));
`,
      );
      await chmod(plugin, 0o755);
      const file = await kubeconfig(`exec-${tag}`, {
        admin: {
          exec: {
            apiVersion,
            command: process.execPath,
            args: [plugin, counter],
            env: [
              { name: 'PREFIX', value: 'exec' },
              { name: 'LIFETIME_MS', value: '1500' },
            ],
            interactiveMode: 'IfAvailable',
          },
        },
      });
      const client = nodeKubernetesClient(loadKubeConfig({ kubeconfig: file }));
      seen.length = 0;
      await Promise.all([client.get('/a'), client.get('/b')]); // one run for both
      await client.get('/c');
      await new Promise((resolve) => setTimeout(resolve, 1_600));
      await client.get('/d');
      assert.deepEqual(
        seen.map((s) => s.headers.authorization),
        ['Bearer exec-1', 'Bearer exec-1', 'Bearer exec-1', 'Bearer exec-2'],
      );
      assert.equal(await readFile(counter, 'utf8'), '2');
    });
  }

  it('says which exec plugin failed', async () => {
    const file = await kubeconfig('exec-fails', {
      admin: {
        exec: {
          apiVersion: 'client.authentication.k8s.io/v1',
          command: process.execPath,
          args: ['-e', 'process.exit(4)'],
        },
      },
    });
    const client = nodeKubernetesClient(loadKubeConfig({ kubeconfig: file }));
    await assert.rejects(client.get('/a'), /exec plugin .* failed/);
  });

  it('does not run a failing exec plugin again for every call: it backs off, then tries again', async () => {
    const counter = path.join(dir, 'exec-backoff.count');
    const file = await kubeconfig('exec-backoff', {
      admin: {
        exec: {
          apiVersion: 'client.authentication.k8s.io/v1',
          command: process.execPath,
          args: [
            '-e',
            `const fs = require('node:fs'); let n = 0; try { n = Number(fs.readFileSync(${JSON.stringify(counter)}, 'utf8')); } catch {} fs.writeFileSync(${JSON.stringify(counter)}, String(n + 1)); process.exit(4)`,
          ],
        },
      },
    });
    const client = nodeKubernetesClient(loadKubeConfig({ kubeconfig: file }));
    await assert.rejects(client.get('/a'), /exec plugin .* failed/);
    for (let i = 0; i < 5; i++) await assert.rejects(client.get('/a'), /exec plugin .* failed.*\(run again in 1 s\)/);
    assert.equal(await readFile(counter, 'utf8'), '1', 'one run for six calls within the backoff');
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await assert.rejects(client.get('/a'), /exec plugin .* failed/);
    assert.equal(await readFile(counter, 'utf8'), '2', 'run again once the backoff passed');
  });

  it('answers other than 2xx are KubernetesApiErrors that statusOf and isNotFound read; a 429 is retried once', async () => {
    const client = nodeKubernetesClient(clusterConfig({ server: url, ca: ca.cert, token: 't' }));
    let calls = 0;
    answer = (req, res) => {
      calls++;
      if (req.url === '/busy' && calls === 1) {
        res.writeHead(429, { 'retry-after': '1', 'content-type': 'application/json' }).end('{}');
        return;
      }
      if (req.url === '/busy') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"second":true}');
        return;
      }
      res
        .writeHead(404, { 'content-type': 'application/json' })
        .end(JSON.stringify({ kind: 'Status', reason: 'NotFound', message: 'pods "p" not found', code: 404 }));
    };
    try {
      const error = await client.get('/api/v1/namespaces/a/pods/p').catch((e: unknown) => e);
      assert.ok(error instanceof KubernetesApiError);
      assert.equal(statusOf(error), 404);
      assert.ok(isNotFound(error));
      assert.equal(error.reason, 'NotFound');
      assert.match(error.message, /GET \/api\/v1\/namespaces\/a\/pods\/p: HTTP 404: pods "p" not found/);
      calls = 0;
      assert.deepEqual(await client.get('/busy'), { second: true });
      assert.equal(calls, 2);
    } finally {
      answer = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    }
  });

  it('sends JSON bodies, and a merge patch as application/merge-patch+json', async () => {
    const client = nodeKubernetesClient(clusterConfig({ server: url, ca: ca.cert, token: 't' }));
    seen.length = 0;
    await client.patch('/s/status', { status: { state: 'Granted' } });
    await client.put('/s/status', { metadata: { resourceVersion: '7' } });
    await client.delete('/s', { preconditions: { uid: 'u1' } });
    assert.deepEqual(
      seen.map((s) => [s.method, s.headers['content-type'], JSON.parse(s.body)]),
      [
        ['PATCH', 'application/merge-patch+json', { status: { state: 'Granted' } }],
        ['PUT', 'application/json', { metadata: { resourceVersion: '7' } }],
        ['DELETE', 'application/json', { preconditions: { uid: 'u1' } }],
      ],
    );
  });

  it('watches: events as they come, the end, and a refused watch as an error with its status', async () => {
    const client = nodeKubernetesClient(clusterConfig({ server: url, ca: ca.cert, token: 't' }));
    answer = (req, res) => {
      if (req.url?.includes('gone')) {
        res
          .writeHead(410, { 'content-type': 'application/json' })
          .end('{"kind":"Status","reason":"Expired","code":410}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"type":"ADDED","object":{"metadata":{"name":"a"}}}\n{"type":"BOOK');
      setTimeout(() => res.end('MARK","object":{"metadata":{"resourceVersion":"9"}}}\n'), 20);
    };
    try {
      seen.length = 0;
      const events: [string, unknown][] = [];
      const ended = await new Promise<unknown>((resolve) => {
        void client.watch(
          '/w',
          { resourceVersion: '5', allowWatchBookmarks: 'true' },
          (t, o) => events.push([t, o]),
          resolve,
        );
      });
      assert.equal(ended, undefined);
      assert.deepEqual(events, [
        ['ADDED', { metadata: { name: 'a' } }],
        ['BOOKMARK', { metadata: { resourceVersion: '9' } }],
      ]);
      assert.equal(seen[0]?.url, '/w?resourceVersion=5&allowWatchBookmarks=true&watch=true');
      const refused = await new Promise<unknown>((resolve) => {
        void client.watch('/gone', {}, () => assert.fail('no event'), resolve);
      });
      assert.equal(statusOf(refused), 410);
    } finally {
      answer = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    }
  });
});

describe('watchLines (the watch stream parser)', () => {
  it('splits chunks cut anywhere into events, keeps a last line without its newline, skips blank lines', () => {
    const events: WatchEvent[] = [];
    const lines = watchLines((event) => events.push(event));
    const stream =
      '{"type":"ADDED","object":{"a":1}}\n\n{"type":"MODIFIED","object":{"text":"line\\nbreak é"}}\n{"type":"DELETED","object":{}}';
    for (let i = 0; i < stream.length; i += 7) lines.push(stream.slice(i, i + 7));
    assert.equal(events.length, 2);
    lines.end();
    assert.deepEqual(events, [
      { type: 'ADDED', object: { a: 1 } },
      { type: 'MODIFIED', object: { text: 'line\nbreak é' } },
      { type: 'DELETED', object: {} },
    ]);
  });

  it('throws on a line that is not a watch event', () => {
    const lines = watchLines(() => {});
    assert.throws(() => lines.push('{"kind":"Status"}\n'), /not a watch event/);
    assert.throws(() => watchLines(() => {}).push('{"type":\n'), SyntaxError);
  });
});
