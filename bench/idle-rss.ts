// The production server's resident memory against the real kube-apiserver: the entry point the image
// runs (adapters/node/main.ts `serve`, bundled as the Dockerfile bundles it), N AccessRequests and N
// AccessGrants, RSS 3 s after /readyz (idle after the informers synced) and right after a short
// saturated load (HTTP/1.1 with 16 connections, then HTTP/2 with 2 × 8 streams). Variants run
// alternately, --runs times each; medians are printed.
//   node --import tsx bench/idle-rss.ts [--n 1000] [--runs 3] [--load 5] [--fake] [--variant SPEC]...
// --fake: the objects come from bench/fake-api.ts instead (N = 100,000 in seconds, not many minutes).
// SPEC is a checkout and, after `::`, node flags and VAR=value environment for the server, e.g.
//   --variant /work/main --variant '.::--max-semi-space-size=1 MALLOC_ARENA_MAX=2'
// The load runs under `flock /tmp/prof/bench.lock` (other benchmarks on this machine take it too).
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { ROOT, freePort, startControlPlane } from '../tests/controlplane/cluster.ts';
import { ApiClient, feedPairs } from './feed.ts';
import { fakeApiServer, fakeKubeconfig } from './fake-api.ts';
import { bundleLikeTheImage, parseVariant } from './load.ts';
import { NAMESPACE, review } from './objects.ts';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '1000' },
    runs: { type: 'string', default: '3' },
    load: { type: 'string', default: '5' },
    variant: { type: 'string', multiple: true },
    lock: { type: 'string', default: '/tmp/prof/bench.lock' },
    fake: { type: 'boolean', default: false },
  },
});
const N = Number(values.n);
const RUNS = Number(values.runs);
const LOAD_S = Number(values.load);

interface Variant {
  label: string;
  bundle: string;
  flags: string[];
  env: Record<string, string>;
}

function variant(spec: string, index: number): Variant {
  const { root, label, flags, env } = parseVariant(spec);
  const outDir = path.join(ROOT, 'bench', '.build');
  mkdirSync(outDir, { recursive: true });
  const bundle = path.join(outDir, `idle-rss-${index}.mjs`);
  bundleLikeTheImage(path.join(root, 'adapters/node/main.ts'), bundle);
  return { label, bundle, flags, env };
}

const variants = (values.variant?.length ? values.variant : ['.']).map(variant);

interface Memory {
  rss: number;
  hwm: number;
  anon: number;
  file: number;
  threads: number;
  pssAnon: number;
}

function memory(pid: number): Memory {
  const mb = (text: string, field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? Number.NaN) / 1024;
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  return {
    rss: mb(status, 'VmRSS'),
    hwm: mb(status, 'VmHWM'),
    anon: mb(status, 'RssAnon'),
    file: mb(status, 'RssFile'),
    threads: Number(/^Threads:\s+(\d+)/m.exec(status)?.[1]),
    pssAnon: mb(rollup, 'Pss_Anon'),
  };
}

function get(url: string, ca: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(url, { ca, timeout: 2_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

const work = mkdtempSync(path.join(os.tmpdir(), 'idle-rss-'));
const log = (line: string) => process.stderr.write(`[idle-rss] ${line}\n`);
const bodyFile = path.join(work, 'review.json');
writeFileSync(bodyFile, review('exec allowed').body);

interface Target {
  kubeconfig: string;
  cert: string;
  key: string;
  caPem: string;
  stop(): Promise<void>;
}

/** The real kube-apiserver, fed N of each through its API. */
async function controlPlane(): Promise<Target> {
  const cp = await startControlPlane({
    dir: path.join(work, 'controlplane'),
    webhookConfiguration: false,
    kwok: false,
    log: (line) => log(`controlplane: ${line}`),
  });
  try {
    await cp.apply([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } }]);
    const admin = new ApiClient({ server: cp.server, caPem: cp.caPem, token: cp.tokens.admin }, 4);
    const t0 = performance.now();
    await feedPairs(admin, NAMESPACE, 0, N, []);
    admin.close();
    log(`${2 * N} objects created in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  } catch (error) {
    await target.stop();
    throw error;
  }
  return { kubeconfig: cp.kubeconfig, cert: cp.webhookCert, key: cp.webhookKey, caPem: cp.caPem, stop: cp.stop };
}

/** bench/fake-api.ts (plain HTTP), and a self-signed certificate for the webhook. */
async function fake(): Promise<Target> {
  const api = await fakeApiServer(N);
  const kubeconfig = path.join(work, 'kubeconfig');
  writeFileSync(kubeconfig, fakeKubeconfig(api.url));
  const cert = path.join(work, 'tls.crt');
  const key = path.join(work, 'tls.key');
  const made = spawnSync('openssl', [
    ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost'],
    ...['-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert],
  ]);
  if (made.status !== 0) throw new Error(`openssl failed: ${made.stderr}`);
  return { kubeconfig, cert, key, caPem: readFileSync(cert, 'utf8'), stop: async () => api.close() };
}

const target = values.fake ? await fake() : await controlPlane();

try {
  const results = new Map<Variant, Record<string, number>[]>(variants.map((v) => [v, []]));
  for (let run = 0; run < RUNS; run++) {
    for (const v of variants) {
      const port = await freePort();
      const child = spawn(
        'taskset',
        [
          '-c',
          '0',
          process.execPath,
          ...v.flags,
          v.bundle,
          'serve',
          `--address=127.0.0.1:${port}`,
          `--cert-file=${target.cert}`,
          `--key-file=${target.key}`,
          `--kubeconfig=${target.kubeconfig}`,
          '--always-allowed-group-name=system:masters',
        ],
        { stdio: 'ignore', env: { ...process.env, ...v.env } },
      );
      const url = `https://127.0.0.1:${port}`;
      const started = performance.now();
      while ((await get(`${url}/readyz`, target.caPem)) !== 200) {
        if (child.exitCode !== null) throw new Error(`${v.label}: the server exited (${child.exitCode})`);
        await sleep(50);
      }
      const ready = (performance.now() - started) / 1000;
      await sleep(3_000);
      const idle = memory(child.pid!);
      const row: Record<string, number> = { ready, ...idle };
      if (LOAD_S > 0) {
        const h2load = (args: string[]) =>
          `taskset -c 1 h2load ${args.join(' ')} -D ${LOAD_S} -H 'content-type: application/json' -d ${bodyFile} ${url}/ >/dev/null 2>&1`;
        spawnSync(
          'flock',
          [values.lock!, 'sh', '-c', `${h2load(['--h1', '-c', '16', '-m', '1'])}; ${h2load(['-c', '2', '-m', '8'])}`],
          { stdio: 'ignore' },
        );
        const loaded = memory(child.pid!);
        row.loadRss = loaded.rss;
        row.loadHwm = loaded.hwm;
        row.loadAnon = loaded.anon;
      }
      results.get(v)!.push(row);
      log(
        `${v.label} run ${run + 1}: ${Object.entries(row)
          .map(([k, x]) => `${k} ${x.toFixed(1)}`)
          .join(', ')}`,
      );
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  }

  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  const keys = Object.keys(results.get(variants[0]!)![0]!);
  console.log(`N = ${N}, ${RUNS} runs each, medians (MB; ready in s):`);
  console.log(['variant', ...keys].join('\t'));
  for (const [v, rows] of results) {
    const cells = keys.map((k) => {
      const xs = rows.map((r) => r[k]!);
      return `${median(xs).toFixed(1)} (${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)})`;
    });
    console.log([v.label, ...cells].join('\t'));
  }
} finally {
  await target.stop();
  rmSync(work, { recursive: true, force: true });
}
