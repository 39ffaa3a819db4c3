// Memory exhaustion by one client (issue 13, item 2), against the real `serve` process on
// 127.0.0.1: 60 unfinished 3 MiB HTTP/2 bodies on one connection, then one deeply nested 3 MiB
// JSON body. The server's RSS (read from /proc) must stay under RSS_BOUND_MB, well below the
// Deployment's 384 Mi limit, and it must keep answering reviews and probes meanwhile.
// Without the limits (no stream cap, no body deadline) the same load held +218 MB indefinitely.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createCA, type Pem } from '../support/pki.ts';

const root = new URL('../..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'kra-faults-bodies-'));
/** The server's resident memory may not pass this during the attacks (the Deployment allows 384 Mi). */
const RSS_BOUND_MB = 300;
const MIB = 1024 * 1024;
const BODY_BYTES = 3 * MIB; // the body cap: the largest body the server accepts
const STREAMS = 60;

let caPem: string;
let apiserverClient: Pem;

interface Server {
  child: ChildProcess;
  url: string;
  log: () => string;
  stop(): Promise<void>;
}

async function startServer(extra: string[] = []): Promise<Server> {
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
      ...extra,
    ],
    { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
  for (let i = 0; i < 300 && !/"msg":"serving"/.test(log); i++) await sleep(50);
  const url = /"msg":"serving","url":"([^"]+)"/.exec(log)?.[1];
  if (!url) {
    child.kill('SIGKILL');
    throw new Error(`serve did not start:\n${log}`);
  }
  return {
    child,
    url,
    log: () => log,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}

function rssMb(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  return kb / 1024;
}

/** Samples RSS every 50 ms until stopped; returns the peak. */
function watchRss(pid: number): { stop(): number } {
  let peak = rssMb(pid);
  const timer = setInterval(() => (peak = Math.max(peak, rssMb(pid))), 50);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, rssMb(pid));
    },
  };
}

function connect(url: string, client?: Pem): http2.ClientHttp2Session {
  const session = http2.connect(url, { ca: caPem, ...client });
  session.on('error', () => {});
  return session;
}

function post(
  session: http2.ClientHttp2Session,
  path: string,
  body?: string,
): Promise<{ status: number; body: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const stream = session.request({
      ':method': body === undefined ? 'GET' : 'POST',
      ':path': path,
      'content-type': 'application/json',
    });
    let status = 0;
    let text = '';
    stream.setEncoding('utf8');
    stream.on('response', (headers) => (status = Number(headers[':status'])));
    stream.on('data', (chunk: string) => (text += chunk));
    stream.on('end', () => resolve({ status, body: text, ms: performance.now() - started }));
    stream.on('error', reject);
    stream.end(body);
  });
}

/**
 * Opens `STREAMS` POSTs on one connection announcing 3 MiB each and sends all but the last byte,
 * never ending them. Resolves with how each stream ended (HTTP status, or the RST code).
 */
function unfinishedBodies(session: http2.ClientHttp2Session): Promise<string[]> {
  const chunk = Buffer.alloc(64 * 1024, 0x20);
  return Promise.all(
    Array.from({ length: STREAMS }, () => {
      const stream = session.request({
        ':method': 'POST',
        ':path': '/',
        'content-type': 'application/json',
        'content-length': String(BODY_BYTES),
      });
      let status = 0;
      stream.on('response', (headers) => (status = Number(headers[':status'])));
      stream.on('error', () => {});
      stream.resume();
      const prefix = '{"a":"';
      let sent = prefix.length; // content-length counts it
      const pump = () => {
        while (sent < BODY_BYTES - 1) {
          const n = Math.min(chunk.length, BODY_BYTES - 1 - sent);
          sent += n;
          if (!stream.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void stream.once('drain', pump);
        }
      };
      stream.write(prefix);
      pump();
      return new Promise<string>((resolve) =>
        stream.once('close', () => resolve(status ? `HTTP ${status}` : `RST ${stream.rstCode}`)),
      );
    }),
  );
}

const fixture = () => readFileSync(join(root, 'tests/fixtures/exec-review.json'), 'utf8');

before(async () => {
  const ca = await createCA();
  caPem = ca.cert;
  const leaf = await ca.issue({ commonName: 'localhost', hosts: ['localhost', '127.0.0.1'] });
  writeFileSync(join(dir, 'tls.crt'), leaf.cert);
  writeFileSync(join(dir, 'tls.key'), leaf.key);
  const clientCa = await createCA('webhook client CA');
  writeFileSync(join(dir, 'client-ca.crt'), clientCa.cert);
  apiserverClient = await clientCa.issue({ commonName: 'kube-apiserver', client: true });
});

after(() => rmSync(dir, { recursive: true, force: true }));

describe('one client cannot exhaust the server memory', () => {
  it(
    `holds ${STREAMS} unfinished 3 MiB HTTP/2 bodies on one connection under ${RSS_BOUND_MB} MB and keeps answering`,
    { timeout: 60_000 },
    async () => {
      const server = await startServer();
      const attacker = connect(server.url);
      const apiserver = connect(server.url);
      try {
        assert.equal((await post(apiserver, '/healthz')).status, 200);
        const baseline = rssMb(server.child.pid!);
        const rss = watchRss(server.child.pid!);
        const started = Date.now();
        const ended = unfinishedBodies(attacker);
        // While the attack runs, a review and a probe on another connection are answered promptly.
        await sleep(1_000);
        const review = await post(apiserver, '/', fixture());
        assert.equal(review.status, 200);
        assert.equal(JSON.parse(review.body).response.allowed, true);
        const probe = await post(apiserver, '/healthz');
        assert.equal(probe.status, 200);
        // Bounded: without a body deadline the streams would stay open for ever.
        const outcomes = await Promise.race([ended, sleep(25_000).then(() => undefined)]);
        const seconds = (Date.now() - started) / 1000;
        const peak = rss.stop();
        console.error(
          `# RSS baseline ${baseline.toFixed(0)} MB, peak ${peak.toFixed(0)} MB; ${STREAMS} streams ${outcomes ? `ended after ${seconds.toFixed(1)} s: ${summary(outcomes)}` : 'still open after 25 s'}; review answered in ${review.ms.toFixed(0)} ms`,
        );
        assert.ok(peak < RSS_BOUND_MB, `RSS peaked at ${peak.toFixed(0)} MB (baseline ${baseline.toFixed(0)} MB)`);
        assert.ok(outcomes, `the ${STREAMS} unfinished bodies were still held after 25 s`);
        // Every stream was cut (RST 8 = CANCEL), none was left holding memory; at 5 s per batch of
        // 32 streams that takes two rounds.
        assert.deepEqual(new Set(outcomes), new Set([`RST ${http2.constants.NGHTTP2_CANCEL}`]));
        assert.ok(seconds < 20, `the streams were cut after ${seconds} s`);
        assert.match(server.log(), /cut a request whose body did not arrive in time/);
        // And the attacker's connection still gets answers.
        assert.equal((await post(attacker, '/healthz')).status, 200);
        assert.equal(server.child.exitCode, null, 'the server is still running');
      } finally {
        attacker.destroy();
        apiserver.destroy();
        await server.stop();
      }
    },
  );

  it('refuses a 3 MiB deeply nested JSON body with 400 before parsing it, without a memory spike', async () => {
    const server = await startServer();
    const client = connect(server.url);
    try {
      assert.equal((await post(client, '/healthz')).status, 200);
      const baseline = rssMb(server.child.pid!);
      const rss = watchRss(server.child.pid!);
      const deep = `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"object":${'['.repeat(BODY_BYTES / 2 - 64)}${']'.repeat(BODY_BYTES / 2 - 64)}}}`;
      const pending = post(client, '/', deep);
      const probe = await post(client, '/healthz');
      const answer = await pending;
      const peak = rss.stop();
      console.error(
        `# deep JSON: ${answer.status} in ${answer.ms.toFixed(0)} ms, RSS ${baseline.toFixed(0)} → ${peak.toFixed(0)} MB, a probe sent meanwhile took ${probe.ms.toFixed(0)} ms`,
      );
      assert.equal(answer.status, 400);
      assert.match(answer.body, /nests JSON deeper than 64 levels/);
      assert.ok(peak - baseline < 60, `RSS grew by ${(peak - baseline).toFixed(0)} MB`);
      assert.ok(probe.ms < 1_000, `a probe waited ${probe.ms.toFixed(0)} ms`);
      assert.ok(peak < RSS_BOUND_MB);
    } finally {
      client.destroy();
      await server.stop();
    }
  });

  it('with --client-ca-file, answers the same bodies from an unauthenticated client with 401 at once', async () => {
    const server = await startServer(['--client-ca-file', join(dir, 'client-ca.crt')]);
    const attacker = connect(server.url);
    const apiserver = connect(server.url, apiserverClient);
    try {
      assert.equal((await post(attacker, '/healthz')).status, 200);
      const rss = watchRss(server.child.pid!);
      const started = Date.now();
      const outcomes = await unfinishedBodies(attacker);
      const seconds = (Date.now() - started) / 1000;
      const review = await post(apiserver, '/', fixture());
      const peak = rss.stop();
      console.error(
        `# with --client-ca-file: ${summary(outcomes)} after ${seconds.toFixed(1)} s, RSS peak ${peak.toFixed(0)} MB`,
      );
      assert.deepEqual(new Set(outcomes), new Set(['HTTP 401']));
      assert.equal(JSON.parse(review.body).response.allowed, true, 'the unauthenticated bodies consumed nothing');
      assert.ok(peak < RSS_BOUND_MB);
    } finally {
      attacker.destroy();
      apiserver.destroy();
      await server.stop();
    }
  });
});

function summary(outcomes: string[]): string {
  const counts = new Map<string, number>();
  for (const outcome of outcomes) counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
  return [...counts].map(([outcome, n]) => `${n}× ${outcome}`).join(', ');
}
