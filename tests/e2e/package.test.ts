// The npm package as a user gets it: `npm pack` (prepack builds cli/dist, dist/server, dist/lib),
// then `npm install -g --prefix TMP ./kube-request-access-*.tgz`, then the two binaries with plain
// node from that prefix, `kubectl request` found by kubectl on PATH, and the webhooks module
// imported and type-checked by a consumer. No control plane needed; about 15 s (pack, install).
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { request } from 'node:https';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { freePort, ROOT } from '../controlplane/cluster.ts';
import { createCA } from '../support/pki.ts';

const run = promisify(execFile);

interface Packed {
  filename: string;
  size: number;
  unpackedSize: number;
  files: { path: string; size: number }[];
}

/** Runs a command; resolves with its outcome, never throws on a non-zero exit. */
async function sh(
  file: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeout?: number } = {},
) {
  const started = performance.now();
  try {
    const { stdout, stderr } = await run(file, args, {
      maxBuffer: 32 * 1024 * 1024,
      timeout: options.timeout ?? 120_000,
      ...options,
    });
    return { code: 0, stdout, stderr, ms: performance.now() - started };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return {
      code: typeof e.code === 'number' ? e.code : 1,
      stdout: e.stdout ?? '',
      stderr: e.stderr ?? String(error),
      ms: performance.now() - started,
    };
  }
}

describe('the npm package, packed and installed globally into a temporary prefix', () => {
  let dir: string;
  let packed: Packed;
  let prefix: string;
  let bin: string;
  let installed: string;
  /** PATH with the prefix first and no node_modules/.bin of this checkout (no tsx to fall back on). */
  let env: NodeJS.ProcessEnv;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'kra-package-'));
    const pack = await sh('npm', ['pack', '--json', '--pack-destination', dir], { cwd: ROOT });
    assert.equal(pack.code, 0, `npm pack failed:\n${pack.stderr.slice(-3000)}`);
    packed = (JSON.parse(pack.stdout) as Packed[])[0]!;
    prefix = path.join(dir, 'prefix');
    const tarball = path.join(dir, packed.filename);
    // Offline from npm's cache when it holds everything; else npm fetches what it lacks.
    let install = await sh(
      'npm',
      ['install', '-g', '--prefix', prefix, '--offline', '--no-audit', '--no-fund', tarball],
      { cwd: dir },
    );
    if (install.code !== 0 && /ENOTCACHED/.test(install.stderr)) {
      install = await sh(
        'npm',
        ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', tarball],
        { cwd: dir },
      );
    }
    assert.equal(install.code, 0, `npm install -g failed:\n${install.stderr.slice(-3000)}`);
    bin = path.join(prefix, 'bin');
    installed = path.join(prefix, 'lib/node_modules/kube-request-access');
    const pathWithout = (process.env.PATH ?? '').split(path.delimiter).filter((p) => !p.startsWith(ROOT));
    env = {
      ...process.env,
      PATH: [bin, ...pathWithout].join(path.delimiter),
      NODE_OPTIONS: '',
      KUBECONFIG: path.join(dir, 'no-kubeconfig'),
    };
  });

  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('holds the bundled CLI, the server bundle, the webhooks module with declarations, and nothing else', (t) => {
    const files = packed.files.map((f) => f.path).sort();
    t.diagnostic(
      `${packed.filename}: ${packed.size} bytes packed, ${packed.unpackedSize} unpacked, ${files.length} files`,
    );
    for (const required of [
      'package.json',
      'README.md',
      'LICENSE',
      'bin/kubectl-request.mjs',
      'bin/kube-request-access.mjs',
      'cli/dist/main.mjs',
      'dist/server/main.mjs',
      'dist/lib/webhooks/index.js',
      'dist/lib/webhooks/index.d.ts',
    ]) {
      assert.ok(files.includes(required), `${required} is not in the tarball`);
    }
    const unwanted = files.filter(
      (f) =>
        /^(tests|bench|\.ci|docs|examples|manifests|charts|scripts|functions|adapters|webhooks|seed|node_modules|\.dev)\//.test(
          f,
        ) ||
        /\.go$|(^|\/)go\.(mod|sum)$/.test(f) ||
        (f.endsWith('.ts') && !f.endsWith('.d.ts')),
    );
    assert.deepEqual(unwanted, [], 'sources, tests, benchmarks, CI, Go or docs beyond the README in the tarball');
    // Everything is under the folders package.json `files` names, or what npm always adds.
    const allowed = /^(bin\/|cli\/dist\/|dist\/server\/|dist\/lib\/|package\.json$|README\.md$|LICENSE$)/;
    assert.deepEqual(
      files.filter((f) => !allowed.test(f)),
      [],
    );
    assert.ok(packed.size < 1024 * 1024, `tarball is ${packed.size} bytes`);
  });

  it('installs no tsx: both binaries run their bundles with plain node', async () => {
    assert.ok(existsSync(path.join(installed, 'node_modules/citty')), 'dependencies were installed');
    assert.ok(!existsSync(path.join(installed, 'node_modules/tsx')), 'tsx is a run-time dependency');
    assert.ok(!existsSync(path.join(installed, '.git')));
  });

  it('kubectl-request --help and --version, and `kubectl request` through kubectl on PATH', async (t) => {
    const help = await sh(path.join(bin, 'kubectl-request'), ['--help'], { env });
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /USAGE kubectl request/);
    assert.equal(help.stderr, '');
    const times: number[] = [];
    for (let i = 0; i < 3; i++) times.push((await sh(path.join(bin, 'kubectl-request'), ['--help'], { env })).ms);
    t.diagnostic(
      `kubectl-request --help: ${times.map((ms) => `${Math.round(ms)} ms`).join(', ')} (wall, loaded machine)`,
    );
    const version = await sh(path.join(bin, 'kubectl-request'), ['--version'], { env });
    assert.equal(version.stdout.trim(), JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')).version);
    const plugin = await sh('kubectl', ['request', '--help'], { env });
    assert.equal(plugin.code, 0, plugin.stderr);
    assert.match(plugin.stdout, /USAGE kubectl request/);
    const list = await sh('kubectl', ['plugin', 'list'], { env });
    assert.match(list.stdout, new RegExp(`${bin.replaceAll('/', '\\/')}\\/kubectl-request`));
  });

  it('kube-request-access serve --help lists the server flags', async (t) => {
    const help = await sh(path.join(bin, 'kube-request-access'), ['serve', '--help'], { env });
    assert.equal(help.code, 0, help.stderr);
    for (const flag of ['--address', '--client-ca-file', '--ungated-namespaces', '--granted-role-name'])
      assert.ok(help.stdout.includes(flag), `${flag} missing`);
    const times: number[] = [];
    for (let i = 0; i < 3; i++)
      times.push((await sh(path.join(bin, 'kube-request-access'), ['serve', '--help'], { env })).ms);
    t.diagnostic(
      `kube-request-access serve --help: ${times.map((ms) => `${Math.round(ms)} ms`).join(', ')} (wall, loaded machine)`,
    );
    const top = await sh(path.join(bin, 'kube-request-access'), ['--help'], { env });
    assert.equal(top.code, 0, top.stderr);
    assert.match(top.stdout, /serve/);
  });

  it('kube-request-access serve runs from the bundle: memory mode over HTTPS answers /healthz and a review', async () => {
    const ca = await createCA();
    const leaf = await ca.issue({ commonName: 'localhost', hosts: ['127.0.0.1', 'localhost'] });
    await writeFile(path.join(dir, 'tls.crt'), leaf.cert);
    await writeFile(path.join(dir, 'tls.key'), leaf.key);
    const port = await freePort();
    const child = spawn(
      path.join(bin, 'kube-request-access'),
      [
        'serve',
        '--address',
        `127.0.0.1:${port}`,
        '--cert-file',
        path.join(dir, 'tls.crt'),
        '--key-file',
        path.join(dir, 'tls.key'),
        '--objects',
        path.join(ROOT, 'tests/fixtures/objects.json'),
      ],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    try {
      const get = (pathname: string, body?: string) =>
        new Promise<{ status: number; text: string }>((resolve, reject) => {
          const req = request(
            `https://127.0.0.1:${port}${pathname}`,
            { ca: ca.cert, method: body ? 'POST' : 'GET', headers: body ? { 'content-type': 'application/json' } : {} },
            (res) => {
              let text = '';
              res.on('data', (c) => (text += c));
              res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
            },
          );
          req.on('error', reject);
          req.end(body);
        });
      let health: { status: number; text: string } | undefined;
      for (let i = 0; i < 100 && !health; i++) {
        health = await get('/healthz').catch(() => undefined);
        if (!health) await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(health?.status, 200, stderr);
      const review = await get('/', await readFile(path.join(ROOT, 'tests/fixtures/exec-review.json'), 'utf8'));
      assert.equal(review.status, 200, review.text);
      assert.equal(JSON.parse(review.text).response.allowed, true, review.text);
    } finally {
      child.kill('SIGKILL');
    }
    assert.doesNotMatch(stderr, /tsx|\.ts:\d/);
  });

  it('kube-request-access/webhooks: imported by a JavaScript consumer and type-checked by a TypeScript one', async () => {
    const lib = path.join(prefix, 'lib');
    await writeFile(
      path.join(lib, 'consumer.mjs'),
      "import { valid, invalid, validationReceiver, AuditType } from 'kube-request-access/webhooks';\n" +
        "console.log(JSON.stringify({ valid: valid(), invalid: invalid('no'), receiver: typeof validationReceiver, audit: typeof AuditType }));\n",
    );
    const js = await sh(process.execPath, [path.join(lib, 'consumer.mjs')], { env, cwd: lib });
    assert.equal(js.code, 0, js.stderr);
    assert.deepEqual(JSON.parse(js.stdout), {
      valid: { status: 'valid' },
      invalid: { status: 'invalid', message: 'no' },
      receiver: 'function',
      audit: 'object',
    });

    await writeFile(
      path.join(lib, 'consumer.ts'),
      [
        "import { valid, invalid, type ValidationResult, type ValidateAccessRequestData } from 'kube-request-access/webhooks';",
        'export function decide(data: ValidateAccessRequestData): ValidationResult {',
        "  return data.AccessRequest.spec.customKeys?.['ticket'] ? valid() : invalid('add -k ticket=OPS-123');",
        '}',
        '// The declarations are real: a wrong type is an error (if they were missing, this would be an unused expect-error).',
        '// @ts-expect-error',
        'export const wrong: ValidationResult = { status: 42 };',
        '',
      ].join('\n'),
    );
    // A consumer's usual settings: Node's module resolution (package exports, .js specifiers).
    const compilerOptions = {
      noEmit: true,
      strict: true,
      module: 'nodenext',
      moduleResolution: 'nodenext',
      target: 'es2022',
      types: [],
      skipLibCheck: true,
    };
    await writeFile(path.join(lib, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['consumer.ts'] }));
    const tsc = await sh(
      process.execPath,
      [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', path.join(lib, 'tsconfig.json')],
      { env, cwd: lib },
    );
    assert.equal(tsc.code, 0, `${tsc.stdout}${tsc.stderr}`);
  });
});
