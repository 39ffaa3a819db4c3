// The Node HTTPS server as an operator runs it: real TLS, real process, real signals.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
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
    const req = https.request(url, { method: 'POST', ca: caPem, agent: false, headers: { 'Content-Type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
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
      { address: '127.0.0.1:0', 'cert-file': join(dir, 'tls.crt'), 'key-file': join(dir, 'tls.key'), objects: join(root, 'tests/fixtures/objects.json') },
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
      { address: '127.0.0.1:0', 'cert-file': join(dir, 'tls.crt'), 'key-file': join(dir, 'tls.key'), objects: join(root, 'tests/fixtures/objects.json') },
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
      { address: '127.0.0.1:0', 'cert-file': join(dir, 'tls.crt'), 'key-file': join(dir, 'tls.key'), objects: join(root, 'tests/fixtures/objects.json'), http2: false },
      silentLogger,
    );
    try {
      const session = http2.connect(server.url, { ca: ca.cert });
      await assert.rejects(h2post(session, '{}'));
      session.destroy();
      assert.equal((await post(`${server.url}/`, ca.cert, readFileSync(join(root, 'tests/fixtures/exec-review.json'), 'utf8'))).status, 200);
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
    const server = await startHttpsServer({ app, address: '127.0.0.1:0', tls: { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') }, logger: silentLogger });
    const session = http2.connect(`https://127.0.0.1:${server.port}`, { ca: ca.cert, servername: 'localhost' });
    const inFlight = h2post(session, '{}');
    await new Promise((r) => setTimeout(r, 100));
    const closed = server.close(5_000);
    release();
    assert.deepEqual(await inFlight, { status: 200, body: 'answered' });
    await closed;
    await assert.rejects(h2post(http2.connect(`https://127.0.0.1:${server.port}`, { ca: ca.cert, servername: 'localhost' }), '{}'));
  });

  it('picks up a rotated certificate without a restart', async () => {
    const app = new Hono().post('/', (c) => c.text('ok'));
    const certFile = join(dir, 'rotating.crt');
    const keyFile = join(dir, 'rotating.key');
    const first = await ca.issue({ commonName: 'localhost', hosts: ['127.0.0.1'] });
    writeFileSync(certFile, first.cert);
    writeFileSync(keyFile, first.key);
    const server = await startHttpsServer({ app, address: '127.0.0.1:0', tls: { certFile, keyFile }, logger: silentLogger, reloadIntervalMs: 50 });
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
        served = await post(url, other.cert, '{}').then((r) => r.status === 200, () => false);
      }
      assert.ok(served, 'the new certificate is served');
      await assert.rejects(post(url, ca.cert, '{}'), /certificate/);
    } finally {
      await server.close();
    }
  });

  const cli = (args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'adapters/node/main.ts', 'serve', ...args], { cwd: root, encoding: 'utf8', timeout: 30_000 });

  it('names a missing certificate file in one line instead of a stack trace', () => {
    const result = cli(['--cert-file', '/nonexistent/tls.crt', '--key-file', join(dir, 'tls.key'), '--objects', 'tests/fixtures/objects.json']);
    assert.equal(result.status, 1);
    assert.equal(result.stderr.trim(), 'kube-request-access: cannot read --cert-file /nonexistent/tls.crt: no such file');
  });

  it('says when the key does not belong to the certificate', async () => {
    const stranger = await ca.issue({ commonName: 'other' });
    writeFileSync(join(dir, 'stranger.key'), stranger.key);
    const result = cli(['--cert-file', join(dir, 'tls.crt'), '--key-file', join(dir, 'stranger.key'), '--objects', 'tests/fixtures/objects.json']);
    assert.equal(result.status, 1);
    assert.match(result.stderr, /^kube-request-access: --cert-file .* and --key-file .* are not a usable certificate and key/);
    assert.equal(result.stderr.trim().split('\n').length, 1);
  });

  it('explains a malformed duration flag', () => {
    const result = cli(['--max-valid-for', '1 day', '--objects', 'tests/fixtures/objects.json']);
    assert.equal(result.status, 1);
    assert.match(result.stderr, /--max-valid-for "1 day" is not a positive duration/);
  });

  it('shuts down cleanly on SIGTERM', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'adapters/node/main.ts', 'serve', '--address', '127.0.0.1:0', '--cert-file', join(dir, 'tls.crt'), '--key-file', join(dir, 'tls.key'), '--objects', 'tests/fixtures/objects.json'], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
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

