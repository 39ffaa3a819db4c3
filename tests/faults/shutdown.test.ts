// SIGTERM under load (issue 13, item 5), against two real `serve` processes on 127.0.0.1: the
// terminating replica keeps serving, unready, for --shutdown-delay while it sends its clients
// away (HTTP/1.1: the connection closes after its response; HTTP/2: GOAWAY), so a client that
// retries a failed request once on a new connection to another replica sees no failure at all.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createCA } from '../support/pki.ts';
import { execReview, grantedObjects, startMemoryServe } from './_serve.ts';

const dir = mkdtempSync(join(tmpdir(), 'kra-faults-shutdown-'));
let caPem: string;

const startReplica = (extra: string[] = []) => startMemoryServe(dir, ['--shutdown-delay', '2s', ...extra]);

function call(url: string, agent: Agent, path = '/', body?: string): Promise<{ status: number; allowed?: boolean }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}${path}`,
      {
        method: body ? 'POST' : 'GET',
        ca: caPem,
        agent,
        headers: { 'content-type': 'application/json' },
        timeout: 5_000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          let allowed: boolean | undefined;
          try {
            allowed = (JSON.parse(text) as { response?: { allowed?: boolean } }).response?.allowed;
          } catch {
            // a probe's text
          }
          resolve({ status: res.statusCode ?? 0, allowed });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

before(async () => {
  const ca = await createCA('shutdown faults');
  const pem = await ca.issue({ commonName: 'localhost', hosts: ['127.0.0.1', 'localhost'] });
  caPem = ca.cert;
  writeFileSync(join(dir, 'tls.crt'), pem.cert);
  writeFileSync(join(dir, 'tls.key'), pem.key);
  writeFileSync(join(dir, 'objects.json'), JSON.stringify(grantedObjects()));
});

after(() => rmSync(dir, { recursive: true, force: true }));

describe('SIGTERM under load', () => {
  it('HTTP/1.1 keep-alive clients that retry once on a new connection see no failure', async () => {
    const [a, b] = await Promise.all([startReplica(['--no-http2']), startReplica(['--no-http2'])]);
    try {
      const agents = [new Agent({ keepAlive: true, maxSockets: 4 }), new Agent({ keepAlive: true, maxSockets: 4 })];
      const replicas = [a, b];
      let failures = 0;
      let retried = 0;
      let servedByTerminating = 0;
      let terminatedAt = 0;
      const stopAt = Date.now() + 6_000;
      // Four clients, each sending one review after another, first to their own replica.
      const client = async (index: number) => {
        let n = 0;
        while (Date.now() < stopAt) {
          const first = index % 2;
          const body = execReview(`c${index}-${n++}`);
          try {
            const answer = await call(replicas[first]!.url, agents[first]!, '/', body);
            if (answer.allowed !== true) failures++;
            else if (first === 0 && terminatedAt) servedByTerminating++;
          } catch {
            retried++;
            try {
              const answer = await call(replicas[1 - first]!.url, agents[1 - first]!, '/', body);
              if (answer.allowed !== true) failures++;
            } catch {
              failures++;
            }
          }
        }
      };
      const load = Promise.all([0, 1, 2, 3].map(client));
      await sleep(1_500);
      terminatedAt = Date.now();
      a.child.kill('SIGTERM');
      await sleep(500);
      const probe = await call(a.url, new Agent(), '/readyz');
      assert.equal(probe.status, 503, 'a terminating replica is not ready');
      await load;
      const code = await a.exited;
      console.error(
        `# SIGTERM under load: ${servedByTerminating} reviews served while draining, ${retried} retried on the other replica, ${failures} failed; exit ${code}`,
      );
      assert.equal(failures, 0);
      assert.ok(servedByTerminating > 0, 'the terminating replica stopped serving at once');
      assert.equal(code, 0, a.log().slice(-2000));
    } finally {
      a.child.kill('SIGKILL');
      b.child.kill('SIGKILL');
    }
  });

  it('HTTP/2: the open session gets GOAWAY, its stream in flight is answered, and the server closes after the delay', async () => {
    const a = await startReplica();
    try {
      const session = http2.connect(a.url, { ca: caPem });
      session.on('error', () => {});
      const goaway = new Promise<void>((resolve) => session.once('goaway', () => resolve()));
      const answer = (uid: string) =>
        new Promise<number>((resolve, reject) => {
          const stream = session.request({ ':method': 'POST', ':path': '/', 'content-type': 'application/json' });
          stream.on('response', (headers) => resolve(Number(headers[':status'])));
          stream.on('error', reject);
          stream.resume();
          stream.end(execReview(uid));
        });
      assert.equal(await answer('before'), 200);
      const started = Date.now();
      a.child.kill('SIGTERM');
      await goaway;
      const goawayMs = Date.now() - started;
      // The listener still takes new connections during the delay.
      const fresh = http2.connect(a.url, { ca: caPem });
      fresh.on('error', () => {});
      const status = await new Promise<number>((resolve, reject) => {
        const stream = fresh.request({ ':method': 'GET', ':path': '/healthz' });
        stream.on('response', (headers) => resolve(Number(headers[':status'])));
        stream.on('error', reject);
        stream.resume();
        stream.end();
      });
      assert.equal(status, 200);
      fresh.close();
      session.close();
      assert.equal(await a.exited, 0);
      const exitMs = Date.now() - started;
      console.error(`# HTTP/2: GOAWAY ${goawayMs} ms after SIGTERM, exit after ${exitMs} ms`);
      assert.ok(goawayMs < 1_000, `GOAWAY came ${goawayMs} ms after SIGTERM`);
      assert.ok(exitMs >= 2_000, `closed after ${exitMs} ms, before the 2 s delay`);
      assert.ok(exitMs < 5_000, `took ${exitMs} ms to close: a session kept it open past the delay`);
    } finally {
      a.child.kill('SIGKILL');
    }
  });
});
