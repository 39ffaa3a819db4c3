// How long the caches take to read their initial state at large N, streamed (watch-list) or listed
// in pages, against the real kube-apiserver (or bench/fake-api.ts with --fake): N AccessRequests
// and N AccessGrants are fed once per N (bench/feed.ts, growing to the next N), then each way runs
// `startCaches` in a fresh child process until `synced`, --runs times, alternating. Printed per
// way: the sync time (median, and every run), the child's peak RSS (VmHWM) and its RSS and live
// heap after sync and a full GC, its CPU time, and the apiserver's CPU time during the sync.
// Figures are printed, never asserted.
//   flock /tmp/prof/bench.lock node --import tsx bench/sync.ts [--ns 10000,100000] [--runs 3]
//     [--ways stream,list:500,list:5000] [--fake]
// The child runs with the image's NODE_OPTIONS and MALLOC_ARENA_MAX (Dockerfile).
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ROOT, startControlPlane } from '../tests/controlplane/cluster.ts';
import { fakeApiServer, fakeKubeconfig } from './fake-api.ts';
import { ApiClient, feedPairs } from './feed.ts';
import { NAMESPACE } from './objects.ts';
import { imageEnv } from './stats.ts';

const { values } = parseArgs({
  options: {
    ns: { type: 'string', default: '10000,100000' },
    runs: { type: 'string', default: '3' },
    ways: { type: 'string', default: 'stream,list:500,list:5000' },
    fake: { type: 'boolean', default: false },
    child: { type: 'string' },
    kubeconfig: { type: 'string' },
    context: { type: 'string' },
  },
});

interface Result {
  way: string;
  syncSeconds: number;
  syncedBy: string[];
  fallbacks: number;
  objects: number;
  peakRssMb: number;
  rssMb: number;
  heapMb: number;
  cpuSeconds: number;
}

if (values.child) {
  // The child: `--child WAY --kubeconfig FILE [--context NAME]` (WAY: stream, or list:PAGE): startCaches until synced.
  const way = values.child;
  const { kubeconfig, context } = values;
  const { startCaches } = await import('../adapters/kubernetes/caches.ts');
  const { nodeKubernetesClient } = await import('../adapters/kubernetes/client.ts');
  const { loadKubeConfig } = await import('../adapters/kubernetes/config.ts');
  const stream = way === 'stream';
  const pageSize = stream ? undefined : Number(way.split(':')[1] ?? 500);
  const syncedBy: string[] = [];
  let fallbacks = 0;
  const logger = {
    debug() {},
    info(msg: string, fields?: Record<string, unknown>) {
      if (msg === 'cache synced') syncedBy.push(String(fields?.by));
    },
    warn(msg: string, fields?: Record<string, unknown>) {
      if (/does not stream/.test(msg)) fallbacks++;
      process.stderr.write(`[sync child] ${msg} ${JSON.stringify(fields)}\n`);
    },
    error(msg: string, fields?: Record<string, unknown>) {
      process.stderr.write(`[sync child] ${msg} ${JSON.stringify(fields)}\n`);
    },
  };
  const client = nodeKubernetesClient(loadKubeConfig({ kubeconfig, ...(context ? { context } : {}) }));
  const gc = (globalThis as { gc?: () => void }).gc!;
  gc();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const caches = startCaches({
    client,
    scopes: [undefined],
    watchRoleBindings: false,
    onChange: () => {},
    logger,
    ...(pageSize ? { listPageSize: pageSize } : {}),
    cacheTimings: { streamInitialState: stream },
  });
  await caches.synced;
  const syncSeconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  gc();
  gc();
  const status = readFileSync('/proc/self/status', 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
  const result: Result = {
    way,
    syncSeconds,
    syncedBy,
    fallbacks,
    objects: caches.requests.size + caches.grants.size,
    peakRssMb: kb('VmHWM') / 1024,
    rssMb: kb('VmRSS') / 1024,
    heapMb: process.memoryUsage().heapUsed / 2 ** 20,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  await caches.stop();
  process.exit(0);
}

const NS = values.ns
  .split(',')
  .map(Number)
  .filter((n) => n > 0)
  .sort((a, b) => a - b);
const RUNS = Number(values.runs);
const WAYS = values.ways.split(',').filter(Boolean);
const IMAGE_ENV = imageEnv(readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'));
const log = (line: string) => process.stderr.write(`[sync] ${line}\n`);
const work = mkdtempSync(path.join(os.tmpdir(), 'kra-sync-'));
process.once('exit', () => rmSync(work, { recursive: true, force: true }));
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

/** CPU seconds (user + system) of our child processes named `name` (the control plane): its share of a sync. */
function childCpuSeconds(name: string): number {
  let ticks = 0;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) !== process.pid || !comm.startsWith(name)) continue;
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone meanwhile
    }
  }
  return ticks / 100; // USER_HZ
}

async function measure(kubeconfig: string, context: string, way: string): Promise<Result> {
  const child = spawn(
    process.execPath,
    [
      '--expose-gc',
      '--import',
      'tsx',
      fileURLToPath(import.meta.url),
      '--child',
      way,
      '--kubeconfig',
      kubeconfig,
      ...(context ? ['--context', context] : []),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...IMAGE_ENV } },
  );
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  const code = await new Promise((resolve) => child.once('close', resolve));
  if (code !== 0) throw new Error(`the measuring child (${way}) exited with ${String(code)} (its stderr is above)`);
  return JSON.parse(out) as Result;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function measureAll(n: number, kubeconfig: string, context: string, apiserverCpu: () => number): Promise<void> {
  const rows = new Map<string, (Result & { serverCpu: number })[]>(WAYS.map((w) => [w, []]));
  for (let run = 0; run < RUNS; run++) {
    for (const way of WAYS) {
      const cpu0 = apiserverCpu();
      const r = await measure(kubeconfig, context, way);
      const serverCpu = apiserverCpu() - cpu0;
      if (r.objects !== 2 * n) throw new Error(`${way}: ${r.objects} objects cached, expected ${2 * n}`);
      rows.get(way)!.push({ ...r, serverCpu });
      log(
        `N = ${n} ${way} run ${run + 1}: ${r.syncSeconds.toFixed(2)} s (by ${[...new Set(r.syncedBy)].join('/')}${r.fallbacks ? `, ${r.fallbacks} fallbacks` : ''}), peak RSS ${r.peakRssMb.toFixed(0)} MB`,
      );
    }
  }
  for (const [way, rs] of rows) {
    const m = (f: (r: Result & { serverCpu: number }) => number) => median(rs.map(f));
    process.stdout.write(
      `N = ${n.toLocaleString('en')} (${(2 * n).toLocaleString('en')} objects) ${way.padEnd(10)} ` +
        `sync ${m((r) => r.syncSeconds).toFixed(2)} s [${rs.map((r) => r.syncSeconds.toFixed(2)).join(', ')}]  ` +
        `peak RSS ${m((r) => r.peakRssMb).toFixed(0)} MB  after GC: RSS ${m((r) => r.rssMb).toFixed(0)} MB, heap ${m((r) => r.heapMb).toFixed(0)} MB  ` +
        `CPU: client ${m((r) => r.cpuSeconds).toFixed(1)} s, apiserver ${m((r) => r.serverCpu).toFixed(1)} s  ` +
        `(synced by ${[...new Set(rs.flatMap((r) => r.syncedBy))].join('/')})\n`,
    );
  }
}

log(`machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown'}; child env ${JSON.stringify(IMAGE_ENV)}`);
if (values.fake) {
  for (const n of NS) {
    const api = await fakeApiServer(n);
    const kubeconfig = path.join(work, `kubeconfig-${n}`);
    writeFileSync(kubeconfig, fakeKubeconfig(api.url));
    // (The fake serves in this process: its CPU is ours, not reported.)
    await measureAll(n, kubeconfig, '', () => 0);
    api.close();
  }
} else {
  const cp = await startControlPlane({
    dir: path.join(work, 'controlplane'),
    webhookConfiguration: false,
    kwok: false,
    log: (line) => log(`controlplane: ${line}`),
  });
  try {
    await cp.apply([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } }]);
    const admin = new ApiClient({ server: cp.server, caPem: cp.caPem, token: cp.tokens.admin }, 4);
    const uids: string[] = [];
    let fed = 0;
    for (const n of NS) {
      const t0 = performance.now();
      await feedPairs(admin, NAMESPACE, fed, n, uids, (kind, done) => log(`${kind}: ${fed + done} of ${n}`));
      log(`${2 * (n - fed)} objects created in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      fed = n;
      await measureAll(n, cp.kubeconfig, 'admin', () => childCpuSeconds('controlplane'));
    }
    admin.close();
  } finally {
    await cp.stop();
  }
}
