// The `yaml` package (about 3 MB of RSS) is loaded only to read a kubeconfig: a server in a pod,
// on its service account, never loads it (adapters/kubernetes/config.ts).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'lazy-yaml-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Whether node had loaded yaml after importing the serve path and loading the configuration `call`. */
function yamlLoadedAfter(call: string): boolean {
  const modules = ['adapters/node/serve.ts', 'adapters/kubernetes/index.ts'];
  const script = [
    ...modules.map((m) => `await import(${JSON.stringify(pathToFileURL(path.join(ROOT, m)).href)});`),
    `const { loadKubeConfig } = await import(${JSON.stringify(pathToFileURL(path.join(ROOT, 'adapters/kubernetes/config.ts')).href)});`,
    call,
    `const { createRequire } = await import('node:module');`,
    `const cache = Object.keys(createRequire(import.meta.url).cache);`,
    `console.log(cache.some((file) => file.includes('/node_modules/yaml/')));`,
  ].join('\n');
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout.trim()) as boolean;
}

describe('yaml is loaded only for a kubeconfig', () => {
  it('the service account of a pod: not loaded', () => {
    writeFileSync(path.join(dir, 'token'), 'a-token');
    const env = { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: '6443', HOME: dir };
    assert.equal(
      yamlLoadedAfter(`loadKubeConfig({ env: ${JSON.stringify(env)}, serviceAccountDir: ${JSON.stringify(dir)} });`),
      false,
    );
  });

  it('a kubeconfig: loaded (so the check above can fail)', () => {
    const file = path.join(dir, 'kubeconfig');
    writeFileSync(
      file,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters: [{ name: c, cluster: { server: "https://127.0.0.1:6443" } }]',
        'users: [{ name: u, user: { token: t } }]',
        'contexts: [{ name: x, context: { cluster: c, user: u } }]',
        'current-context: x',
      ].join('\n'),
    );
    assert.equal(yamlLoadedAfter(`loadKubeConfig({ kubeconfig: ${JSON.stringify(file)} });`), true);
  });
});
