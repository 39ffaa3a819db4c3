// CPU per exec review of two or more variants of the server against bare node:https / node:http2,
// in one run, interleaved (A, B, baseline, A, B, baseline, ...) so that other work on a shared
// machine weighs on all of them alike. A variant is a checkout and, after `::`, node flags and
// VAR=value environment for the server (as in bench/idle-rss.ts). No control plane: `serve --objects` (the in-memory lookup)
// with the production app, audit log and review log (stdout and stderr to /dev/null). Server
// pinned to core 0, h2load to core 1; CPU from /proc over h2load's logged window.
//   node --import tsx bench/ab-cpu.ts --before DIR [--rounds 3] [--duration 4]   (DIR against this checkout)
//   node --import tsx bench/ab-cpu.ts --variant . --variant '.::--max-semi-space-size=4' [...]
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createCA } from '../tests/support/pki.ts';
import { cpuPerReview, cpuSampler, hasCommand, parseVariant, pinned, runLoad } from './load.ts';
import { accessGrant, accessRequest, review } from './objects.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    before: { type: 'string' },
    variant: { type: 'string', multiple: true },
    rounds: { type: 'string' },
    duration: { type: 'string' },
  },
});
const specs = values.variant?.length ? values.variant : values.before ? [values.before, ROOT] : [];
if (specs.length < 1 || !hasCommand('h2load')) {
  process.stderr.write(
    'usage: node --import tsx bench/ab-cpu.ts --before DIR | --variant SPEC [--variant SPEC]... (SPEC: DIR[::node flags VAR=value]; needs h2load)\n',
  );
  process.exit(2);
}
const variants = specs.map(parseVariant);
const ROUNDS = Number(values.rounds ?? 3);
const DURATION = Number(values.duration ?? 4);
const WARMUP = 1;
const work = mkdtempSync(path.join(os.tmpdir(), 'kra-ab-'));
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

const ca = await createCA();
const leaf = await ca.issue({ commonName: 'localhost', hosts: ['localhost', '127.0.0.1'] });
const cert = path.join(work, 'tls.crt');
const key = path.join(work, 'tls.key');
writeFileSync(cert, leaf.cert);
writeFileSync(key, leaf.key);
// alice's time-bound granted request for the measured exec (never used up), pinned by uid.
const request = accessRequest(0) as { metadata: Record<string, unknown> };
request.metadata.uid = 'uid-bench-r-000000';
request.metadata.creationTimestamp = new Date().toISOString();
const grant = accessGrant(0, 'uid-bench-r-000000') as { metadata: Record<string, unknown> };
grant.metadata.creationTimestamp = new Date().toISOString();
const objects = path.join(work, 'objects.json');
writeFileSync(objects, JSON.stringify([request, grant]));

let nextPort = 20_000 + Math.floor(Math.random() * 20_000);
async function start(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ pid: number; url: string; stop(): void }> {
  const port = nextPort++;
  const [command, argv] = pinned(
    0,
    process.execPath,
    args.map((a) => a.replace('PORT', String(port))),
  );
  const child = spawn(command, argv, { stdio: 'ignore', env: { ...process.env, ...env } });
  children.add(child);
  const url = `https://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const req = https.get(`${url}/healthz`, { ca: ca.cert, servername: 'localhost' }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on('error', () => resolve(false));
    });
    if (ok) break;
    await sleep(100);
  }
  return {
    pid: child.pid!,
    url,
    stop: () => {
      child.kill('SIGKILL');
      children.delete(child);
    },
  };
}

const serve = (root: string, flags: string[]) => [
  ...flags,
  '--import',
  'tsx',
  path.join(root, 'adapters/node/main.ts'),
  'serve',
  '--address',
  '127.0.0.1:PORT',
  '--cert-file',
  cert,
  '--key-file',
  key,
  '--objects',
  objects,
];
type Server = { args: (proto: 'h1' | 'h2') => string[]; env?: Record<string, string> };
const servers: Record<string, Server> = {
  baseline: {
    args: (proto) => [
      '--import',
      'tsx',
      path.join(ROOT, 'bench/baseline.ts'),
      '--proto',
      proto,
      '--port',
      'PORT',
      '--cert-file',
      cert,
      '--key-file',
      key,
    ],
  },
};
const labels = variants.map((v, i) =>
  variants.filter((w) => w.label === v.label).length > 1 ? `${v.label} #${i + 1}` : v.label,
);
variants.forEach((v, i) => {
  servers[labels[i]!] = { args: () => serve(v.root, v.flags), env: v.env };
});

const body = review('exec allowed').body;
const results: Record<string, number[]> = {};
for (let round = 0; round < ROUNDS; round++) {
  for (const proto of ['h1', 'h2'] as const) {
    for (const [name, { args, env }] of Object.entries(servers)) {
      const server = await start(args(proto), env);
      try {
        const sampler = cpuSampler(server.pid);
        const run = await runLoad({
          url: `${server.url}/`,
          body,
          proto,
          clients: proto === 'h1' ? 16 : 2,
          streams: proto === 'h1' ? 1 : 8,
          durationS: DURATION,
          warmupS: WARMUP,
          core: 1,
          generator: 'h2load',
          workDir: work,
        });
        const us = cpuPerReview(sampler.stop(), run, DURATION + WARMUP);
        const wrong = Object.entries(run.statuses).filter(([status]) => status !== '200');
        (results[`${name} ${proto}`] ??= []).push(us);
        process.stderr.write(
          `[ab] round ${round + 1} ${name} ${proto}: ${Math.round(run.rps)} reviews/s, ${us.toFixed(0)} µs CPU/review${wrong.length ? ` (non-200: ${JSON.stringify(wrong)})` : ''}\n`,
        );
      } finally {
        server.stop();
      }
    }
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (const proto of ['h1', 'h2'] as const) {
  const base = median(results[`baseline ${proto}`]!);
  for (const name of labels) {
    const us = median(results[`${name} ${proto}`]!);
    process.stdout.write(
      `${proto} ${name} ${us.toFixed(0)} µs/review (median of ${ROUNDS}), baseline ${base.toFixed(0)} µs: ${(base / us).toFixed(2)} of bare node\n`,
    );
  }
}
process.exit(0);
