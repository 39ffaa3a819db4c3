// The audit log on stdout is part of the decision (issue 13, item 3), against the real `serve`
// process on 127.0.0.1: a reader that stalls makes reviews wait and then refuses them with a
// bounded buffer (no unaudited allow, RSS flat); a reader that goes away (EPIPE) neither crashes
// the server nor lets anything through, and the probes keep answering.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createCA } from '../support/pki.ts';
import { execReview, grantedObjects, startMemoryServe } from './_serve.ts';

const dir = mkdtempSync(join(tmpdir(), 'kra-faults-audit-'));
let caPem: string;

interface Answer {
  status: number;
  allowed?: boolean;
  message?: string;
}

function post(url: string, path: string, body?: string, timeoutMs = 3_000): Promise<Answer> {
  return new Promise((resolve) => {
    const req = request(
      `${url}${path}`,
      {
        method: body ? 'POST' : 'GET',
        ca: caPem,
        headers: { 'content-type': 'application/json' },
        timeout: timeoutMs,
        agent: false,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          try {
            const response = (JSON.parse(text) as { response: { allowed: boolean; status?: { message: string } } })
              .response;
            resolve({
              status: res.statusCode ?? 0,
              allowed: response.allowed,
              message: response.status?.message ?? '',
            });
          } catch {
            resolve({ status: res.statusCode ?? 0, message: text });
          }
        });
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve({ status: 0 }));
    req.end(body);
  });
}

async function startServer() {
  writeFileSync(join(dir, 'objects.json'), JSON.stringify(grantedObjects()));
  // stdout is a pipe the test holds and does not read: the audit log's reader, stalled.
  const server = await startMemoryServe(dir, ['--no-http2'], 'pipe');
  server.child.stdout!.pause();
  return server;
}

const rssMb = (pid: number) =>
  Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;

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
        const answers = await Promise.all(
          Array.from({ length: 100 }, (_, i) => post(server.url, '/', execReview(`r-${batch}-${i}`), 1_000)),
        );
        for (const answer of answers) {
          if (answer.allowed) allowed++;
          else if (answer.status === 200) refused ??= answer;
          else unanswered++;
        }
        peak = Math.max(peak, rssMb(pid));
      }
      console.error(
        `# stalled reader: ${allowed} allowed, ${unanswered} waiting, then refused; RSS ${startRss.toFixed(0)} → ${peak.toFixed(0)} MB`,
      );
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
      assert.equal((await post(server.url, '/', execReview('after-drain'))).allowed, true);

      // The reader goes away: EPIPE on the next write. Nothing crashes, nothing is allowed.
      server.child.stdout!.destroy();
      await sleep(100);
      const answers: Answer[] = [];
      for (let i = 0; i < 5; i++) answers.push(await post(server.url, '/', execReview(`closed-${i}`)));
      assert.equal(server.child.exitCode, null, `serve exited:\n${server.log().slice(-2000)}`);
      assert.ok(
        answers.every((a) => a.allowed === false),
        JSON.stringify(answers),
      );
      assert.match(answers.at(-1)!.message!, /audit log cannot take this decision \(its output failed: .*EPIPE/);
      assert.equal((await post(server.url, '/healthz')).status, 200);
    } finally {
      server.child.kill('SIGKILL');
    }
  });
});
