// The audit log on stdout is part of the decision (issue 13, item 3), against the real `serve`
// process on 127.0.0.1: a reader that stalls makes reviews wait and then refuses them with a
// bounded buffer (no unaudited allow, RSS flat); a reader that goes away (EPIPE) neither crashes
// the server nor lets anything through, and the probes keep answering.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createCA } from '../support/pki.ts';

const root = new URL('../..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'kra-faults-audit-'));
let caPem: string;

/** A time-bound granted request, so every review of it is an allowed exec with an audit line. */
function objects(): object[] {
  const now = Date.now();
  return [
    {
      apiVersion: 'kube-request-access.io/v1',
      kind: 'AccessRequest',
      metadata: { name: 'alice-web', namespace: 'team-a', uid: 'uid-alice-web', resourceVersion: '1', creationTimestamp: new Date(now - 60_000).toISOString() },
      spec: {
        userInfo: { username: 'alice' },
        forObject: { resource: { group: '', version: 'v1', resource: 'pods' }, subResource: 'exec', name: 'web', namespace: 'team-a' },
        validFor: '1h',
        execOptions: { container: 'app', command: ['ls'] },
      },
    },
    {
      apiVersion: 'kube-request-access.io/v1',
      kind: 'AccessGrant',
      metadata: { name: 'alice-web', namespace: 'team-a', uid: 'uid-grant', resourceVersion: '2', creationTimestamp: new Date(now - 30_000).toISOString() },
      spec: { grantFor: 'alice-web', grantForUID: 'uid-alice-web', grantedBy: { username: 'carol' } },
      status: 'granted',
    },
  ];
}

const review = (uid: string) =>
  JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'PodExecOptions' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      subResource: 'exec',
      name: 'web',
      namespace: 'team-a',
      operation: 'CONNECT',
      userInfo: { username: 'alice', groups: ['developers'] },
      object: { kind: 'PodExecOptions', apiVersion: 'v1', stdout: true, stderr: true, container: 'app', command: ['ls'] },
      oldObject: null,
      dryRun: false,
    },
  });

interface Answer {
  status: number;
  allowed?: boolean;
  message?: string;
}

function post(url: string, path: string, body?: string, timeoutMs = 3_000): Promise<Answer> {
  return new Promise((resolve) => {
    const req = request(`${url}${path}`, { method: body ? 'POST' : 'GET', ca: caPem, headers: { 'content-type': 'application/json' }, timeout: timeoutMs, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        try {
          const response = (JSON.parse(text) as { response: { allowed: boolean; status?: { message: string } } }).response;
          resolve({ status: res.statusCode ?? 0, allowed: response.allowed, message: response.status?.message ?? '' });
        } catch {
          resolve({ status: res.statusCode ?? 0, message: text });
        }
      });
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve({ status: 0 }));
    req.end(body);
  });
}

async function startServer(): Promise<{ child: ChildProcess; url: string; log: () => string }> {
  writeFileSync(join(dir, 'objects.json'), JSON.stringify(objects()));
  // stdout is a pipe the test holds and does not read: the audit log's reader, stalled.
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'adapters/node/main.ts', 'serve', '--address', '127.0.0.1:0', '--cert-file', join(dir, 'tls.crt'), '--key-file', join(dir, 'tls.key'), '--objects', join(dir, 'objects.json'), '--no-http2'],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout!.pause();
  let log = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
  for (let i = 0; i < 300 && !/"msg":"serving"/.test(log); i++) await sleep(50);
  const url = /"msg":"serving","url":"([^"]+)"/.exec(log)?.[1];
  if (!url) throw new Error(`serve did not start:\n${log}`);
  return { child, url, log: () => log };
}

const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;

before(async () => {
  const ca = await createCA('audit-log faults');
  const pem = await ca.issue({ commonName: 'localhost', hosts: ['127.0.0.1', 'localhost'] });
  caPem = ca.cert;
  writeFileSync(join(dir, 'tls.crt'), pem.cert);
  writeFileSync(join(dir, 'tls.key'), pem.key);
});

after(() => rmSync(dir, { recursive: true, force: true }));

describe('the audit log reader stalls, then goes away', () => {
  it('refuses once its buffer is full, keeps memory flat, allows nothing unaudited; survives EPIPE', async () => {
    const server = await startServer();
    try {
      const pid = server.child.pid!;
      const startRss = rssMb(pid);
      let allowed = 0;
      let unanswered = 0;
      let refused: Answer | undefined;
      let peak = startRss;
      // Batches of concurrent reviews until the log refuses (its pipe and its 1 MiB buffer full).
      // Reviews whose line waits in the buffer get no answer: the apiserver would time them out.
      for (let batch = 0; batch < 40 && !refused; batch++) {
        const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => post(server.url, '/', review(`r-${batch}-${i}`), 1_000)));
        for (const answer of answers) {
          if (answer.allowed) allowed++;
          else if (answer.status === 200) refused ??= answer;
          else unanswered++;
        }
        peak = Math.max(peak, rssMb(pid));
      }
      console.error(`# stalled reader: ${allowed} allowed, ${unanswered} waiting, then refused; RSS ${startRss.toFixed(0)} → ${peak.toFixed(0)} MB`);
      assert.ok(refused, 'the stalled log never refused');
      assert.match(refused.message!, /audit log cannot take this decision \(its reader is not keeping up/);
      // Every allowed review's line is in the pipe or the buffer: read them all, and count.
      const lines: string[] = [];
      let pending = '';
      server.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
        pending += chunk;
        const parts = pending.split('\n');
        pending = parts.pop()!;
        lines.push(...parts);
      });
      server.child.stdout!.resume();
      await sleep(1_000);
      // Every allowed answer had its line written first (the waiting ones are written now too).
      const written = lines.filter((l) => l.includes('"verdict":"allowed"')).length;
      assert.ok(written >= allowed, `${allowed} allowed, only ${written} audit lines`);
      assert.ok(peak - startRss < 60, `RSS grew ${(peak - startRss).toFixed(0)} MB with a stalled reader`);
      // Drained: reviews go through again.
      assert.equal((await post(server.url, '/', review('after-drain'))).allowed, true);

      // The reader goes away: EPIPE on the next write. Nothing crashes, nothing is allowed.
      server.child.stdout!.destroy();
      await sleep(100);
      const answers: Answer[] = [];
      for (let i = 0; i < 5; i++) answers.push(await post(server.url, '/', review(`closed-${i}`)));
      assert.equal(server.child.exitCode, null, `serve exited:\n${server.log().slice(-2000)}`);
      assert.ok(answers.every((a) => a.allowed === false), JSON.stringify(answers));
      assert.match(answers.at(-1)!.message!, /audit log cannot take this decision \(its output failed: .*EPIPE/);
      assert.equal((await post(server.url, '/healthz')).status, 200);
    } finally {
      server.child.kill('SIGKILL');
    }
  });
});
