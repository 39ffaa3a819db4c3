// The Node HTTPS server as an operator runs it: real TLS, real process, real signals.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import tls from 'node:tls';
import { Hono } from 'hono';
import { silentLogger } from '../../adapters/log.ts';
import { startServe } from '../../adapters/node/serve.ts';
import { startHttpsServer } from '../../adapters/node/server.ts';
import { createCA, type CertificateAuthority } from '../support/pki.ts';

const root = new URL('../..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'kra-server-'));
let ca: CertificateAuthority;

function post(url: string, caPem: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      { method: 'POST', ca: caPem, agent: false, headers: { 'Content-Type': 'application/json' } },
      (res) => {
        let text = '';
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function h2post(session: http2.ClientHttp2Session, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    session.once('error', reject);
    const stream = session.request({ ':method': 'POST', ':path': '/', 'content-type': 'application/json' });
    let status = 0;
    let text = '';
    stream.on('response', (headers) => (status = Number(headers[':status'])));
    stream.on('data', (chunk) => (text += chunk));
    stream.on('end', () => resolve({ status, body: text }));
    stream.on('error', reject);
    stream.end(body);
  });
}

before(async () => {
  ca = await createCA();
  const leaf = await ca.issue({ commonName: 'localhost', hosts: ['localhost', '127.0.0.1'] });
  writeFileSync(join(dir, 'tls.crt'), leaf.cert);
  writeFileSync(join(dir, 'tls.key'), leaf.key);
});

describe('kube-request-access serve', () => {
  it('answers a fixture AdmissionReview over HTTPS from memory objects', async () => {
    const server = await startServe(
      {
        address: '127.0.0.1:0',
        'cert-file': join(dir, 'tls.crt'),
        'key-file': join(dir, 'tls.key'),
        objects: join(root, 'tests/fixtures/objects.json'),
      },
      silentLogger,
    );
    try {
      const fixture = readFileSync(join(root, 'tests/fixtures/exec-review.json'), 'utf8');
      const first = await post(`${server.url}/`, ca.cert, fixture);
      assert.equal(first.status, 200);
      assert.equal(JSON.parse(first.body).response.allowed, true);
      const replay = await post(`${server.url}/`, ca.cert, fixture);
      assert.equal(JSON.parse(replay.body).response.allowed, false);
    } finally {
      await server.close();
    }
  });

  it('speaks HTTP/2 to clients that offer it, as the kube-apiserver does', async () => {
    const server = await startServe(
      {
        address: '127.0.0.1:0',
        'cert-file': join(dir, 'tls.crt'),
        'key-file': join(dir, 'tls.key'),
        objects: join(root, 'tests/fixtures/objects.json'),
      },
      silentLogger,
    );
    const session = http2.connect(server.url, { ca: ca.cert });
    try {
      const fixture = readFileSync(join(root, 'tests/fixtures/exec-review.json'), 'utf8');
      const answer = await h2post(session, fixture);
      assert.equal(session.alpnProtocol, 'h2');
      assert.equal(answer.status, 200);
      assert.equal(JSON.parse(answer.body).response.allowed, true);
    } finally {
      session.close();
      await server.close();
    }
  });

  it('serves HTTP/1.1 only with http2 off, even to clients that offer h2', async () => {
    const server = await startServe(
      {
        address: '127.0.0.1:0',
        'cert-file': join(dir, 'tls.crt'),
        'key-file': join(dir, 'tls.key'),
        objects: join(root, 'tests/fixtures/objects.json'),
        http2: false,
      },
      silentLogger,
    );
    try {
      const session = http2.connect(server.url, { ca: ca.cert });
      await assert.rejects(h2post(session, '{}'));
      session.destroy();
      assert.equal(
        (await post(`${server.url}/`, ca.cert, readFileSync(join(root, 'tests/fixtures/exec-review.json'), 'utf8')))
          .status,
        200,
      );
    } finally {
      await server.close();
    }
  });

  it('lets an in-flight HTTP/2 review finish on shutdown, then closes', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const app = new Hono().post('/', async (c) => {
      await gate;
      return c.text('answered');
    });
    const server = await startHttpsServer({
      app,
      address: '127.0.0.1:0',
      tls: { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') },
      logger: silentLogger,
    });
    const session = http2.connect(`https://127.0.0.1:${server.port}`, { ca: ca.cert, servername: 'localhost' });
    const inFlight = h2post(session, '{}');
    await new Promise((r) => setTimeout(r, 100));
    const closed = server.close(5_000);
    release();
    assert.deepEqual(await inFlight, { status: 200, body: 'answered' });
    await closed;
    await assert.rejects(
      h2post(http2.connect(`https://127.0.0.1:${server.port}`, { ca: ca.cert, servername: 'localhost' }), '{}'),
    );
  });

  it('picks up a rotated certificate without a restart', async () => {
    const app = new Hono().post('/', (c) => c.text('ok'));
    const certFile = join(dir, 'rotating.crt');
    const keyFile = join(dir, 'rotating.key');
    const first = await ca.issue({ commonName: 'localhost', hosts: ['127.0.0.1'] });
    writeFileSync(certFile, first.cert);
    writeFileSync(keyFile, first.key);
    const server = await startHttpsServer({
      app,
      address: '127.0.0.1:0',
      tls: { certFile, keyFile },
      logger: silentLogger,
      reloadIntervalMs: 50,
    });
    try {
      const url = `https://127.0.0.1:${server.port}/`;
      assert.equal((await post(url, ca.cert, '{}')).status, 200);
      const other = await createCA('rotated CA');
      const second = await other.issue({ commonName: 'localhost', hosts: ['127.0.0.1'] });
      writeFileSync(keyFile, second.key);
      writeFileSync(certFile, second.cert);
      let served = false;
      for (let i = 0; i < 100 && !served; i++) {
        await new Promise((r) => setTimeout(r, 50));
        served = await post(url, other.cert, '{}').then(
          (r) => r.status === 200,
          () => false,
        );
      }
      assert.ok(served, 'the new certificate is served');
      await assert.rejects(post(url, ca.cert, '{}'), /certificate/);
    } finally {
      await server.close();
    }
  });

  const cli = (args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'adapters/node/main.ts', 'serve', ...args], {
      cwd: root,
      encoding: 'utf8',
      timeout: 30_000,
    });

  it('names a missing certificate file in one line instead of a stack trace', () => {
    const result = cli([
      '--cert-file',
      '/nonexistent/tls.crt',
      '--key-file',
      join(dir, 'tls.key'),
      '--objects',
      'tests/fixtures/objects.json',
    ]);
    assert.equal(result.status, 1);
    assert.equal(
      result.stderr.trim(),
      'kube-request-access: cannot read --cert-file /nonexistent/tls.crt: no such file',
    );
  });

  it('says when the key does not belong to the certificate', async () => {
    const stranger = await ca.issue({ commonName: 'other' });
    writeFileSync(join(dir, 'stranger.key'), stranger.key);
    const result = cli([
      '--cert-file',
      join(dir, 'tls.crt'),
      '--key-file',
      join(dir, 'stranger.key'),
      '--objects',
      'tests/fixtures/objects.json',
    ]);
    assert.equal(result.status, 1);
    assert.match(
      result.stderr,
      /^kube-request-access: --cert-file .* and --key-file .* are not a usable certificate and key/,
    );
    assert.equal(result.stderr.trim().split('\n').length, 1);
  });

  it('explains a malformed duration flag', () => {
    const result = cli(['--max-valid-for', '1 day', '--objects', 'tests/fixtures/objects.json']);
    assert.equal(result.status, 1);
    assert.match(result.stderr, /--max-valid-for "1 day" is not a positive duration/);
  });

  it('shuts down cleanly on SIGTERM', async () => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'adapters/node/main.ts',
        'serve',
        '--address',
        '127.0.0.1:0',
        '--cert-file',
        join(dir, 'tls.crt'),
        '--key-file',
        join(dir, 'tls.key'),
        '--objects',
        'tests/fixtures/objects.json',
      ],
      { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let log = '';
    child.stderr.on('data', (chunk) => (log += chunk));
    for (let i = 0; i < 200 && !log.includes('"serving"'); i++) await new Promise((r) => setTimeout(r, 50));
    assert.match(log, /"msg":"serving"/);
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.match(log, /"msg":"shutting down","signal":"SIGTERM"/);
  });
});

describe('serve --client-ca-file: only the kube-apiserver may send reviews', () => {
  const fixture = () => readFileSync(join(root, 'tests/fixtures/exec-review.json'), 'utf8');
  let clientCa: CertificateAuthority;
  let apiserver: { cert: string; key: string };
  let stranger: { cert: string; key: string };

  before(async () => {
    clientCa = await createCA('webhook client CA');
    writeFileSync(join(dir, 'client-ca.crt'), clientCa.cert);
    apiserver = await clientCa.issue({ commonName: 'kube-apiserver', client: true });
    // Same subject, signed by a CA the server does not trust.
    stranger = await (await createCA('webhook client CA')).issue({ commonName: 'kube-apiserver', client: true });
  });

  const serveWithClientCa = (extra: { http2?: boolean } = {}) =>
    startServe(
      {
        address: '127.0.0.1:0',
        'cert-file': join(dir, 'tls.crt'),
        'key-file': join(dir, 'tls.key'),
        objects: join(root, 'tests/fixtures/objects.json'),
        'client-ca-file': join(dir, 'client-ca.crt'),
        ...extra,
      },
      silentLogger,
    );

  function request(
    url: string,
    options: { method?: string; body?: string; client?: { cert: string; key: string } },
  ): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = https.request(
        url,
        {
          method: options.method ?? 'POST',
          ca: ca.cert,
          agent: false,
          ...options.client,
          headers: { 'Content-Type': 'application/json' },
        },
        (res) => {
          let text = '';
          res.on('data', (chunk) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.on('error', reject);
      req.end(options.body);
    });
  }

  it('refuses a review without a client certificate with 401 and consumes nothing (HTTP/1.1)', async () => {
    const server = await serveWithClientCa();
    try {
      const anonymous = await request(`${server.url}/`, { body: fixture() });
      assert.equal(anonymous.status, 401);
      assert.match(anonymous.body, /client certificate signed by the --client-ca-file CA is required.*kubeConfigFile/);
      assert.equal(anonymous.body.trim().split('\n').length, 1);
      const foreign = await request(`${server.url}/`, { body: fixture(), client: stranger });
      assert.equal(foreign.status, 401);
      // The one-shot request of the fixture is still there: the apiserver's first review is allowed…
      const first = await request(`${server.url}/`, { body: fixture(), client: apiserver });
      assert.equal(first.status, 200);
      assert.equal(JSON.parse(first.body).response.allowed, true);
      // …and it is a real review: the one-shot request is now used up.
      const replay = await request(`${server.url}/`, { body: fixture(), client: apiserver });
      assert.equal(JSON.parse(replay.body).response.allowed, false);
    } finally {
      await server.close();
    }
  });

  it('refuses without a valid client certificate and reviews with one over HTTP/2', async () => {
    const server = await serveWithClientCa();
    const sessions = [
      http2.connect(server.url, { ca: ca.cert }),
      http2.connect(server.url, { ca: ca.cert, ...stranger }),
      http2.connect(server.url, { ca: ca.cert, ...apiserver }),
    ];
    const [anonymous, foreign, trusted] = sessions as [
      http2.ClientHttp2Session,
      http2.ClientHttp2Session,
      http2.ClientHttp2Session,
    ];
    try {
      const refused = await h2post(anonymous, fixture());
      assert.equal(anonymous.alpnProtocol, 'h2');
      assert.equal(refused.status, 401);
      assert.match(refused.body, /client certificate/);
      assert.equal((await h2post(foreign, fixture())).status, 401);
      const answer = await h2post(trusted, fixture());
      assert.equal(answer.status, 200);
      assert.equal(JSON.parse(answer.body).response.allowed, true);
    } finally {
      for (const session of sessions) session.close();
      await server.close();
    }
  });

  it('keeps /healthz, /readyz and /metrics open to callers without a certificate (kubelet probes)', async () => {
    const server = await serveWithClientCa({ http2: false });
    try {
      for (const path of ['/healthz', '/readyz', '/metrics']) {
        assert.equal((await request(`${server.url}${path}`, { method: 'GET' })).status, 200, path);
      }
      // Only reads of those paths: anything else needs the certificate.
      assert.equal((await request(`${server.url}/healthz`, { method: 'POST', body: '{}' })).status, 401);
      assert.equal((await request(`${server.url}/?healthz`, { method: 'GET' })).status, 401);
    } finally {
      await server.close();
    }
  });

  it('picks up a replaced client CA without a restart', async () => {
    const app = new Hono().post('/', (c) => c.text('reviewed'));
    const caFile = join(dir, 'rotating-client-ca.crt');
    writeFileSync(caFile, clientCa.cert);
    const server = await startHttpsServer({
      app,
      address: '127.0.0.1:0',
      tls: { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') },
      logger: silentLogger,
      reloadIntervalMs: 50,
      clientCaFile: caFile,
    });
    try {
      const url = `https://127.0.0.1:${server.port}/`;
      assert.equal((await request(url, { body: '{}', client: apiserver })).status, 200);
      const next = await createCA('next webhook client CA');
      const rotated = await next.issue({ commonName: 'kube-apiserver', client: true });
      writeFileSync(caFile, next.cert);
      let accepted = false;
      for (let i = 0; i < 100 && !accepted; i++) {
        await new Promise((r) => setTimeout(r, 50));
        accepted = (await request(url, { body: '{}', client: rotated })).status === 200;
      }
      assert.ok(accepted, 'a certificate of the new CA is accepted');
      assert.equal(
        (await request(url, { body: '{}', client: apiserver })).status,
        401,
        'the old CA is no longer trusted',
      );
    } finally {
      await server.close();
    }
  });

  const cli = (args: string[]) =>
    spawnSync(
      process.execPath,
      ['--import', 'tsx', 'adapters/node/main.ts', 'serve', '--objects', 'tests/fixtures/objects.json', ...args],
      { cwd: root, encoding: 'utf8', timeout: 30_000 },
    );
  const tlsArgs = () => [
    '--address',
    '127.0.0.1:0',
    '--cert-file',
    join(dir, 'tls.crt'),
    '--key-file',
    join(dir, 'tls.key'),
  ];

  it('names an unreadable or unusable client CA file in one line', async () => {
    const missing = cli([...tlsArgs(), '--client-ca-file', '/nonexistent/ca.crt']);
    assert.equal(missing.status, 1);
    assert.equal(
      missing.stderr.trim(),
      'kube-request-access: cannot read --client-ca-file /nonexistent/ca.crt: no such file',
    );
    writeFileSync(join(dir, 'not-pem.crt'), 'hello\n');
    const garbage = cli([...tlsArgs(), '--client-ca-file', join(dir, 'not-pem.crt')]);
    assert.equal(garbage.status, 1);
    assert.match(garbage.stderr, /^kube-request-access: --client-ca-file .*not-pem\.crt contains no PEM certificate/);
    writeFileSync(join(dir, 'leaf-as-ca.crt'), apiserver.cert);
    const leaf = cli([...tlsArgs(), '--client-ca-file', join(dir, 'leaf-as-ca.crt')]);
    assert.equal(leaf.status, 1);
    assert.match(leaf.stderr, /^kube-request-access: --client-ca-file .* is not a CA certificate/);
    for (const result of [missing, garbage, leaf]) assert.equal(result.stderr.trim().split('\n').length, 1);
  });

  it('warns once at start when reviews are not authenticated', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'adapters/node/main.ts', 'serve', ...tlsArgs(), '--objects', 'tests/fixtures/objects.json'],
      { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let log = '';
    child.stderr.on('data', (chunk) => (log += chunk));
    for (let i = 0; i < 200 && !log.includes('"serving"'); i++) await new Promise((r) => setTimeout(r, 50));
    const exited = new Promise((resolve) => child.on('exit', resolve));
    child.kill('SIGTERM');
    await exited;
    const warnings = log.split('\n').filter((line) => line.includes('reviews are not authenticated'));
    assert.equal(warnings.length, 1, log);
    assert.match(warnings[0]!, /"level":"warn".*--client-ca-file/);
  });
});

describe('limits per connection and per request', () => {
  const tlsFiles = () => ({ certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') });
  /** The app reads the body the way app.ts does: to its end. */
  const echo = new Hono()
    .post('/', async (c) => c.text(`read ${(await c.req.text()).length}`))
    .onError((_error, c) => c.text('the body was cut', 500));

  it('advertises a bounded number of HTTP/2 streams per connection', async () => {
    const server = await startHttpsServer({ app: echo, address: '127.0.0.1:0', tls: tlsFiles(), logger: silentLogger });
    const session = http2.connect(`https://127.0.0.1:${server.port}`, { ca: ca.cert, servername: 'localhost' });
    try {
      await new Promise((resolve) => session.once('remoteSettings', resolve));
      assert.equal(session.remoteSettings.maxConcurrentStreams, 32);
    } finally {
      session.close();
      await server.close();
    }
  });

  it('cuts an HTTP/2 stream whose body does not finish in time, and keeps serving the session', async () => {
    const server = await startHttpsServer({
      app: echo,
      address: '127.0.0.1:0',
      tls: tlsFiles(),
      logger: silentLogger,
      limits: { bodyTimeoutMs: 300 },
    });
    const session = http2.connect(`https://127.0.0.1:${server.port}`, { ca: ca.cert, servername: 'localhost' });
    try {
      const started = Date.now();
      const stream = session.request({ ':method': 'POST', ':path': '/', 'content-type': 'application/json' });
      stream.write('{"unfinished": ');
      const code = await new Promise<number>((resolve) => stream.once('close', () => resolve(stream.rstCode ?? -1)));
      assert.equal(code, http2.constants.NGHTTP2_CANCEL);
      assert.ok(Date.now() - started < 3_000, `cut after ${Date.now() - started} ms`);
      assert.deepEqual(await h2post(session, '{}'), { status: 200, body: 'read 2' });
    } finally {
      session.close();
      await server.close();
    }
  });

  /** Answers 415 without reading the body, as the review route does for a wrong Content-Type. */
  const refusing = new Hono().post('/', (c) => c.text('Content-Type must be application/json', 415));

  it('closes the HTTP/2 stream of an answer that left its body unread, and keeps serving the session', async () => {
    const server = await startHttpsServer({
      app: refusing,
      address: '127.0.0.1:0',
      tls: tlsFiles(),
      logger: silentLogger,
    });
    const session = http2.connect(`https://127.0.0.1:${server.port}`, { ca: ca.cert, servername: 'localhost' });
    try {
      const stream = session.request({ ':method': 'POST', ':path': '/', 'content-type': 'text/plain' });
      stream.write('x'.repeat(1024)); // and never ends: without the cleanup the stream stays open
      let status = 0;
      stream.on('response', (headers) => (status = Number(headers[':status'])));
      stream.resume();
      const started = Date.now();
      await new Promise((resolve) => stream.once('close', resolve));
      assert.equal(status, 415);
      assert.equal(stream.rstCode, http2.constants.NGHTTP2_NO_ERROR, 'reset without error after a complete answer');
      assert.ok(Date.now() - started < 3_000, `closed after ${Date.now() - started} ms`);
      const next = session.request({ ':method': 'POST', ':path': '/', 'content-type': 'text/plain' });
      next.end('y');
      const nextStatus = await new Promise<number>((resolve) =>
        next.once('response', (headers) => resolve(Number(headers[':status']))),
      );
      assert.equal(nextStatus, 415);
      next.resume();
    } finally {
      session.close();
      await server.close();
    }
  });

  /** A raw HTTP/1.1 connection: resolves with what it received and how long it stayed open. */
  function rawHttp1(port: number, send: string): Promise<{ ms: number; received: string }> {
    return new Promise((resolve, reject) => {
      const started = Date.now();
      let received = '';
      const socket = tls.connect(
        { port, host: '127.0.0.1', ca: ca.cert, servername: 'localhost', ALPNProtocols: ['http/1.1'] },
        () => socket.write(send),
      );
      socket.setEncoding('utf8').on('data', (chunk: string) => (received += chunk));
      socket.on('error', () => {});
      socket.on('close', () => resolve({ ms: Date.now() - started, received }));
      setTimeout(() => {
        socket.destroy();
        reject(new Error('the server kept the connection open'));
      }, 5_000).unref();
    });
  }

  it('closes an HTTP/1.1 connection whose body is still coming after an answer that did not read it', async () => {
    const server = await startHttpsServer({
      app: refusing,
      address: '127.0.0.1:0',
      tls: tlsFiles(),
      logger: silentLogger,
      http2: false,
    });
    try {
      // 1 MiB declared, 10 bytes sent: the answer goes out, then the connection is closed
      // (not held open waiting for the rest).
      const { received, ms } = await rawHttp1(
        server.port,
        'POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nContent-Length: 1048576\r\n\r\n0123456789',
      );
      assert.match(received, /^HTTP\/1\.1 415 /);
      assert.ok(ms < 3_000, `closed after ${ms} ms`);
    } finally {
      await server.close();
    }
  });

  for (const http2Offered of [true, false]) {
    const label = http2Offered ? 'beside HTTP/2' : 'with --no-http2';
    it(`cuts an HTTP/1.1 request whose headers or body do not finish in time (${label})`, async () => {
      const server = await startHttpsServer({
        app: echo,
        address: '127.0.0.1:0',
        tls: tlsFiles(),
        logger: silentLogger,
        http2: http2Offered,
        limits: { bodyTimeoutMs: 300, headersTimeoutMs: 300 },
      });
      try {
        const headers = await rawHttp1(server.port, 'POST / HTTP/1.1\r\nHost: localhost\r\n');
        assert.ok(headers.ms < 3_000, `headers: open for ${headers.ms} ms`);
        const body = await rawHttp1(
          server.port,
          'POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":',
        );
        assert.ok(body.ms < 3_000, `body: open for ${body.ms} ms`);
        assert.doesNotMatch(body.received, /read/);
        const whole = await rawHttp1(
          server.port,
          'POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}',
        );
        assert.match(whole.received, /^HTTP\/1\.1 200[\s\S]*read 2$/);
      } finally {
        await server.close();
      }
    });
  }

  it('refuses deeply nested JSON with 400 before parsing it', async () => {
    const server = await startServe(
      {
        address: '127.0.0.1:0',
        'cert-file': join(dir, 'tls.crt'),
        'key-file': join(dir, 'tls.key'),
        objects: join(root, 'tests/fixtures/objects.json'),
      },
      silentLogger,
    );
    try {
      const deep = `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"x":${'['.repeat(100_000)}${']'.repeat(100_000)}}}`;
      const answer = await post(`${server.url}/`, ca.cert, deep);
      assert.equal(answer.status, 400);
      assert.match(answer.body, /nests JSON deeper than 64 levels/);
    } finally {
      await server.close();
    }
  });
});
