// The krew release (scripts/release.ts): the archive holds the self-contained plugin and LICENSE,
// the manifest it writes names that archive with its real sha256, the same sources give the same
// archive, the plugin runs from the extracted archive with plain node and no node_modules, and krew
// (built from sigs.k8s.io/krew on the Go module proxy by scripts/build-krew.sh, about 20 s cold)
// installs it so that `kubectl request` works. No control plane needed.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { krewManifest, release, type Release } from '../../scripts/release.ts';
import { ROOT } from '../controlplane/cluster.ts';

const run = promisify(execFile);

async function sh(
  file: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeout?: number } = {},
) {
  try {
    const { stdout, stderr } = await run(file, args, { maxBuffer: 32 * 1024 * 1024, timeout: 180_000, ...options });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(error) };
  }
}

const sha256 = async (file: string) =>
  createHash('sha256')
    .update(await readFile(file))
    .digest('hex');

describe('scripts/release.ts: the krew archive and manifest', () => {
  let dir: string;
  let result: Release;
  let version: string;
  let extracted: string;
  /** PATH without this checkout's node_modules/.bin. */
  let basePath: string;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'kra-release-test-'));
    version = (JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    result = await release({ out: path.join(dir, 'out'), manifest: path.join(dir, 'request.yaml') });
    extracted = path.join(dir, 'extracted');
    await mkdir(extracted);
    await run('tar', ['-xzf', result.archive, '-C', extracted]);
    basePath = (process.env.PATH ?? '')
      .split(path.delimiter)
      .filter((p) => !p.startsWith(ROOT))
      .join(path.delimiter);
  });

  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('writes a manifest whose fields and sha256 match the archive', async (t) => {
    const manifest = parse(await readFile(result.manifest, 'utf8'));
    assert.equal(manifest.apiVersion, 'krew.googlecontainertools.github.com/v1alpha2');
    assert.equal(manifest.kind, 'Plugin');
    assert.equal(manifest.metadata.name, 'request');
    assert.equal(manifest.spec.version, `v${version}`);
    assert.ok(manifest.spec.shortDescription && manifest.spec.description && manifest.spec.homepage);
    assert.equal(manifest.spec.platforms.length, 1);
    const [platform] = manifest.spec.platforms;
    assert.deepEqual(platform.selector.matchExpressions, [{ key: 'os', operator: 'In', values: ['linux', 'darwin'] }]);
    assert.equal(
      platform.uri,
      `https://github.com/kube-request-access/kube-request-access/releases/download/v${version}/kubectl-request-v${version}.tar.gz`,
    );
    assert.equal(path.basename(platform.uri), path.basename(result.archive));
    assert.match(platform.sha256, /^[0-9a-f]{64}$/);
    assert.equal(platform.sha256, await sha256(result.archive));
    assert.equal(platform.sha256, result.sha256);
    // The bin and every `from` pattern exist in the archive.
    assert.ok(existsSync(path.join(extracted, platform.bin)), platform.bin);
    for (const { from } of platform.files) assert.ok(existsSync(path.join(extracted, from.replace(/\/\*$/, ''))), from);
    t.diagnostic(`${path.basename(result.archive)}: ${statSync(result.archive).size} bytes, sha256 ${result.sha256}`);
  });

  it('packs the plugin, its package.json and LICENSE, and nothing else', async () => {
    const { stdout } = await run('tar', ['-tzf', result.archive]);
    const entries = stdout.trim().split('\n').sort();
    assert.ok(
      entries.includes('LICENSE') && entries.includes('package.json') && entries.includes('bin/kubectl-request.mjs'),
      entries.join(' '),
    );
    assert.deepEqual(
      entries.filter((e) => !/^(LICENSE|package\.json|bin\/|bin\/[\w-]+\.mjs)$/.test(e)),
      [],
    );
    assert.equal(
      await readFile(path.join(extracted, 'LICENSE'), 'utf8'),
      await readFile(path.join(ROOT, 'LICENSE'), 'utf8'),
    );
    assert.ok(statSync(path.join(extracted, 'bin/kubectl-request.mjs')).mode & 0o111, 'the plugin is executable');
  });

  it('is reproducible: the same sources give the same sha256', async () => {
    const again = await release({ out: path.join(dir, 'again'), manifest: path.join(dir, 'again.yaml') });
    assert.equal(again.sha256, result.sha256);
  });

  it('runs from the extracted archive with plain node and no node_modules, the Kubernetes client included', async () => {
    const plugin = path.join(extracted, 'bin/kubectl-request.mjs');
    const env = { ...process.env, PATH: basePath, NODE_PATH: '', NODE_OPTIONS: '' };
    const help = await sh(plugin, ['--help'], { env, cwd: dir });
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /USAGE kubectl request/);
    assert.equal((await sh(plugin, ['--version'], { env, cwd: dir })).stdout.trim(), version);
    // A command that loads the bundled @kubernetes/client-node and fails only at the network.
    const kubeconfig = path.join(dir, 'unreachable.kubeconfig');
    await writeFile(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:1' } }],
        users: [{ name: 'u', user: { token: 't' } }],
        contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'c',
      }),
    );
    const list = await sh(plugin, ['list', '--kubeconfig', kubeconfig], { env, cwd: dir, timeout: 60_000 });
    assert.notEqual(list.code, 0);
    assert.match(list.stderr, /cannot reach the cluster at https:\/\/127\.0\.0\.1:1/);
    assert.doesNotMatch(list.stderr, /ERR_MODULE_NOT_FOUND|Cannot find (module|package)/);
  });

  it('installs with krew (kubectl krew install --manifest --archive) and runs as kubectl request', async (t) => {
    if ((await sh('go', ['version'])).code !== 0) {
      t.skip('no Go toolchain to build krew (scripts/build-krew.sh); the manifest and checksum are verified above');
      return;
    }
    const built = await sh('nice', ['bash', path.join(ROOT, 'scripts/build-krew.sh')], { timeout: 300_000 });
    assert.equal(built.code, 0, built.stderr);
    const krew = path.join(ROOT, '.dev/bin/krew');
    const krewRoot = path.join(dir, 'krew');
    const env = {
      ...process.env,
      KREW_ROOT: krewRoot,
      PATH: [path.join(krewRoot, 'bin'), basePath].join(path.delimiter),
    };
    const install = await sh(krew, ['install', `--manifest=${result.manifest}`, `--archive=${result.archive}`], {
      env,
    });
    assert.equal(install.code, 0, `${install.stdout}${install.stderr}`);
    assert.match(install.stderr + install.stdout, /Installed plugin: request/);
    const version_ = await sh('kubectl', ['request', '--version'], { env });
    assert.equal(version_.code, 0, version_.stderr);
    assert.equal(version_.stdout.trim(), version);
    // krew's receipt of the install, naming this version.
    assert.match(
      await readFile(path.join(krewRoot, 'receipts/request.yaml'), 'utf8'),
      new RegExp(`version: v${version.replaceAll('.', '\\.')}`),
    );
  });

  it('the committed cli/krew/request.yaml was written by the script for this version', async () => {
    const committed = await readFile(path.join(ROOT, 'cli/krew/request.yaml'), 'utf8');
    const sha = /sha256: "([0-9a-f]{64})"/.exec(committed)?.[1];
    assert.ok(sha && !/^0+$/.test(sha), 'a real sha256');
    const uri = `https://github.com/kube-request-access/kube-request-access/releases/download/v${version}/kubectl-request-v${version}.tar.gz`;
    assert.equal(
      committed,
      krewManifest({ version, uri, sha256: sha }),
      're-run: node --import tsx scripts/release.ts',
    );
  });
});
