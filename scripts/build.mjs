#!/usr/bin/env node
// Builds what the npm package ships (prepack; esbuild and typescript are devDependencies):
// - cli/dist/         the kubectl-request bundle (cli/build.mjs);
// - dist/server/      the kube-request-access server bundle, with the Kubernetes backend in its own
//                     chunk, loaded only by `serve` (so --help never parses it);
// - dist/lib/         `kube-request-access/webhooks` as JavaScript with declarations (tsc), whose
//                     relative imports end in .js.
// npm packages stay external: they are the package's dependencies. bin/*.mjs run these bundles
// when there is no .git next to them (an installed package), the TypeScript sources otherwise.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const started = Date.now();

await import('../cli/build.mjs');

const server = path.join(root, 'dist/server');
await rm(server, { recursive: true, force: true });
await build({
  entryPoints: { main: path.join(root, 'adapters/node/main.ts') },
  outdir: server,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  outExtension: { '.js': '.mjs' },
  logLevel: 'warning',
});
console.error(`built ${server}`);

const lib = path.join(root, 'dist/lib');
await rm(lib, { recursive: true, force: true });
execFileSync(
  process.execPath,
  [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.webhooks.json')],
  { stdio: 'inherit' },
);
// tsc keeps the sources' `./x.ts` specifiers in declarations; the published files are .js/.d.ts.
for (const file of await readdir(lib, { recursive: true })) {
  if (!String(file).endsWith('.d.ts')) continue;
  const full = path.join(lib, String(file));
  const text = await readFile(full, 'utf8');
  await writeFile(full, text.replace(/(from\s+['"]\.{1,2}\/[^'"]*?)\.ts(['"])/g, '$1.js$2'));
}
console.error(`built ${lib} in ${Date.now() - started} ms`);
