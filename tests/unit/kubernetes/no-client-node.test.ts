// The server does not load @kubernetes/client-node (about 72 MB of RSS: docs/benchmarks.md, "The
// Kubernetes client on the server"): neither the server bundle scripts/build.mjs makes from
// adapters/node/main.ts imports it (every command, migrate-from-seed included), nor does node load
// it when the serve path's modules are imported with an import hook that refuses it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BLOCKER = fileURLToPath(new URL('../cli/fixtures/block-client-node.mjs', import.meta.url));

describe('the server without @kubernetes/client-node', () => {
  it('the server bundle (adapters/node/main.ts, as scripts/build.mjs builds it) imports no @kubernetes/client-node', async () => {
    const result = await build({
      entryPoints: [path.join(ROOT, 'adapters/node/main.ts')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      packages: 'external',
      write: false,
      outdir: path.join(ROOT, 'dist/server-metafile-test'),
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    assert.ok(
      inputs.some((input) => input.endsWith('adapters/kubernetes/informer.ts')),
      'the bundle has the caches',
    );
    assert.ok(
      inputs.some((input) => input.endsWith('adapters/node/migrate.ts')),
      'and migrate-from-seed',
    );
    const offenders = Object.entries(result.metafile.inputs).flatMap(([input, { imports }]) =>
      imports.filter((i) => i.path.includes('@kubernetes/client-node')).map((i) => `${input} imports ${i.path}`),
    );
    assert.deepEqual(offenders, []);
  });

  it('node loads the serve path (serve.ts, the Kubernetes backend, migrate-from-seed) with client-node refused', () => {
    const modules = ['adapters/node/serve.ts', 'adapters/kubernetes/index.ts', 'adapters/node/migrate.ts'];
    const script = modules
      .map((m) => `await import(${JSON.stringify(pathToFileURL(path.join(ROOT, m)).href)});`)
      .join('');
    const run = (blocked: string[]) =>
      spawnSync(
        process.execPath,
        ['--import', 'tsx', '--import', BLOCKER, '--input-type=module', '-e', script + blocked.join('')],
        {
          cwd: ROOT,
          encoding: 'utf8',
          timeout: 60_000,
        },
      );
    const ok = run([]);
    assert.equal(ok.status, 0, ok.stderr);
    // The hook does refuse it (so the check above can fail).
    const refused = run([`await import('@kubernetes/client-node');`]);
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /BLOCKED: @kubernetes\/client-node/);
  });
});
