// Memory of the server's caches at large N without feeding a real kube-apiserver (which takes
// minutes per 100,000 objects here): the real Kubernetes backend (adapters/kubernetes, its
// reflectors, stores and indexes) lists N AccessRequests and N AccessGrants, shaped as the
// kube-apiserver lists them, from the fake API server of bench/fake-api.ts in this process, in
// pages of 500; its watches stay open and quiet. The backend runs in a child process, which
// reports its RSS and live heap after sync and a full GC.
//   node --import tsx bench/cache-rss.ts [--root DIR] N...
// --root: the checkout whose adapters/kubernetes is measured (default: this one), to compare
// before and after a change in the same run.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { fakeApiServer } from './fake-api.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { root: { type: 'string' }, child: { type: 'string' }, n: { type: 'string' } },
});

if (values.child) {
  // The child: the backend of `--child ROOT` over the fake API server at --n's URL.
  const root = values.child;
  const [server, n] = positionals as [string, string];
  const { startKubernetesBackend } = (await import(
    pathToFileURL(path.join(root, 'adapters/kubernetes/index.ts')).href
  )) as typeof import('../adapters/kubernetes/index.ts');
  const { silentLogger } = (await import(
    pathToFileURL(path.join(root, 'adapters/log.ts')).href
  )) as typeof import('../adapters/log.ts');
  const { clusterConfig } = (await import(
    pathToFileURL(path.join(root, 'adapters/kubernetes/config.ts')).href
  )) as typeof import('../adapters/kubernetes/config.ts');
  const kc = clusterConfig({ server });
  const gc = (globalThis as { gc?: () => void }).gc!;
  gc();
  const before = process.memoryUsage();
  const t0 = performance.now();
  const backend = await startKubernetesBackend({
    kubeConfig: kc,
    usernamePrefix: '',
    cleanupIntervalMs: 3_600_000,
    deleteAfterMs: 3_600_000,
    logger: silentLogger,
  });
  await backend.synced();
  const syncSeconds = (performance.now() - t0) / 1000;
  gc();
  gc();
  const after = process.memoryUsage();
  process.stdout.write(
    `${JSON.stringify({
      n: Number(n),
      syncSeconds,
      rssMb: after.rss / 2 ** 20,
      heapMb: after.heapUsed / 2 ** 20,
      bytesPerObject: (after.heapUsed - before.heapUsed) / (2 * Number(n)),
    })}\n`,
  );
  await backend.stop();
  process.exit(0);
}

// The parent: a fake API server, and one child per N.
const root = path.resolve(values.root ?? path.join(HERE, '..'));
const ns = positionals.map(Number).filter((n) => n > 0);
for (const n of ns.length ? ns : [1_000, 100_000]) {
  const fake = await fakeApiServer(n);
  const url = fake.url;
  const child = spawn(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', fileURLToPath(import.meta.url), '--child', root, url, String(n)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  const code = await new Promise((resolve) => child.once('close', resolve));
  fake.close();
  if (code !== 0) throw new Error(`the measuring child for N = ${n} exited with ${String(code)} (its stderr is above)`);
  const r = JSON.parse(out) as { syncSeconds: number; rssMb: number; heapMb: number; bytesPerObject: number };
  process.stdout.write(
    `${root}: N = ${n}: synced in ${r.syncSeconds.toFixed(1)} s; RSS ${r.rssMb.toFixed(0)} MB, live heap ${r.heapMb.toFixed(0)} MB, ${Math.round(r.bytesPerObject)} B of heap per cached object (stores, indexes, reflector)\n`,
  );
}
