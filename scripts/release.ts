// Release artifacts of the kubectl plugin for krew:
//   node --import tsx scripts/release.ts [--version 0.1.0] [--out dist/release] [--manifest cli/krew/request.yaml]
//                                        [--base-url https://github.com/<owner>/<repo>/releases/download/v<version>]
// 1. bundles the CLI with all its dependencies (esbuild; npm packages included, subcommands and the
//    Kubernetes client in lazily loaded chunks): a krew install has no node_modules, only Node.js;
// 2. packs OUT/kubectl-request-v<version>.tar.gz with bin/kubectl-request.mjs (+ its chunks), a
//    package.json (name and version, for `kubectl request --version`; "type": "module") and LICENSE,
//    reproducibly (sorted names, mtime 0, uid/gid 0, gzip without a timestamp): the same sources
//    give the same sha256;
// 3. writes the krew manifest (cli/krew/request.yaml by default) with that archive's uri and sha256.
// Upload the archive to the release at --base-url, then `kubectl krew install --manifest=cli/krew/request.yaml`
// works; tests/e2e/release.test.ts checks the manifest against the archive and installs it with krew.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const REPOSITORY = 'https://github.com/kube-request-access/kube-request-access';

export interface ReleaseOptions {
  version?: string;
  out?: string;
  manifest?: string;
  baseUrl?: string;
}

export interface Release {
  version: string;
  archive: string;
  sha256: string;
  uri: string;
  manifest: string;
}

export function krewManifest({ version, uri, sha256 }: { version: string; uri: string; sha256: string }): string {
  return `# krew plugin manifest for kubectl-request (krew.sigs.k8s.io/v1alpha2), written by scripts/release.ts:
# do not edit by hand, re-run it for each release. The archive holds bin/kubectl-request.mjs, a
# bundle of the plugin with its dependencies, so it needs only Node.js >= 20 on the user's machine.
# Install from this file: kubectl krew install --manifest=cli/krew/request.yaml
apiVersion: krew.googlecontainertools.github.com/v1alpha2
kind: Plugin
metadata:
  name: request
spec:
  version: v${version}
  homepage: ${REPOSITORY}
  shortDescription: Ask for, grant and deny audited access to kubectl exec
  description: |
    kubectl request asks for approved, audited access to kubectl exec (and its friends) in one
    container of one pod, once or for a while. Approvers review requests and grant or deny them;
    the kube-request-access admission webhook lets exactly the granted command through.
    Requires Node.js 20 or later and the kube-request-access webhook in the cluster.
  caveats: |
    Needs Node.js >= 20 on PATH. Your cluster needs kube-request-access installed:
    without it \`kubectl request\` says the API is not installed.
  platforms:
    - selector:
        matchExpressions:
          - { key: os, operator: In, values: [linux, darwin] }
      uri: ${uri}
      sha256: "${sha256}"
      files:
        - from: bin/*
          to: bin
        - from: package.json
          to: .
        - from: LICENSE
          to: .
      bin: bin/kubectl-request.mjs
`;
}

export async function release(options: ReleaseOptions = {}): Promise<Release> {
  const pkg = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as {
    name: string;
    version: string;
    license: string;
  };
  const version = options.version ?? pkg.version;
  const out = path.resolve(options.out ?? path.join(ROOT, 'dist/release'));
  const manifest = path.resolve(options.manifest ?? path.join(ROOT, 'cli/krew/request.yaml'));
  const baseUrl = (options.baseUrl ?? `${REPOSITORY}/releases/download/v${version}`).replace(/\/$/, '');
  const name = `kubectl-request-v${version}.tar.gz`;

  const stage = await mkdtemp(path.join(tmpdir(), 'kra-release-'));
  try {
    await build({
      stdin: {
        contents: "import { runCli } from './cli/main.ts';\nprocess.exitCode = await runCli(process.argv.slice(2));\n",
        resolveDir: ROOT,
        sourcefile: 'kubectl-request.ts',
        loader: 'ts',
      },
      outdir: path.join(stage, 'bin'),
      entryNames: 'kubectl-request',
      chunkNames: 'chunk-[hash]',
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      outExtension: { '.js': '.mjs' },
      // CommonJS dependencies (the Kubernetes client) call require() for Node's modules.
      banner: {
        js: "#!/usr/bin/env node\nimport { createRequire as __kraCreateRequire } from 'node:module';\nconst require = __kraCreateRequire(import.meta.url);",
      },
      legalComments: 'none',
      logLevel: 'warning',
    });
    await writeFile(
      path.join(stage, 'package.json'),
      `${JSON.stringify({ name: pkg.name, version, license: pkg.license, type: 'module', private: true }, null, 2)}\n`,
    );
    await copyFile(path.join(ROOT, 'LICENSE'), path.join(stage, 'LICENSE'));
    execFileSync('chmod', ['0755', path.join(stage, 'bin/kubectl-request.mjs')]);

    await mkdir(out, { recursive: true });
    const archive = path.join(out, name);
    const tar = execFileSync(
      'tar',
      [
        '--sort=name',
        '--mtime=@0',
        '--owner=0',
        '--group=0',
        '--numeric-owner',
        '--mode=u+rw,go+r,go-w',
        '-C',
        stage,
        '-cf',
        '-',
        'LICENSE',
        'package.json',
        'bin',
      ],
      { maxBuffer: 256 * 1024 * 1024 },
    );
    const gz = execFileSync('gzip', ['-n', '-9'], { input: tar, maxBuffer: 256 * 1024 * 1024 });
    await writeFile(archive, gz);
    const sha256 = createHash('sha256').update(gz).digest('hex');
    const uri = `${baseUrl}/${name}`;
    await mkdir(path.dirname(manifest), { recursive: true });
    await writeFile(manifest, krewManifest({ version, uri, sha256 }));
    return { version, archive, sha256, uri, manifest };
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      version: { type: 'string' },
      out: { type: 'string' },
      manifest: { type: 'string' },
      'base-url': { type: 'string' },
    },
    strict: true,
  });
  const result = await release({
    ...(values.version ? { version: values.version } : {}),
    ...(values.out ? { out: values.out } : {}),
    ...(values.manifest ? { manifest: values.manifest } : {}),
    ...(values['base-url'] ? { baseUrl: values['base-url'] } : {}),
  });
  console.log(`${path.relative(process.cwd(), result.archive)}  sha256 ${result.sha256}`);
  console.log(`${path.relative(process.cwd(), result.manifest)}  uri ${result.uri}`);
}
