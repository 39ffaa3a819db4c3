// Bundles the edge entries (Cloudflare Workers, Deno, Bun) for a browser-like target and fails on
// any Node built-in on their import path: the proof that the worker needs no Node API.
// `npx tsx examples/edge/build.ts [outdir]` prints each bundle's size; tests/edge calls bundleEdge.
import { builtinModules } from 'node:module';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';

const HERE = path.dirname(fileURLToPath(import.meta.url));

export const ENTRIES = {
  workerd: path.join(HERE, 'cloudflare/worker.ts'),
  deno: path.join(HERE, 'deno/main.ts'),
  bun: path.join(HERE, 'bun/main.ts'),
} as const;
export type EdgeTarget = keyof typeof ENTRIES;

export interface EdgeBundle {
  target: EdgeTarget;
  file: string;
  bytes: number;
  gzipBytes: number;
}

const NODE_BUILTINS = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));

/** An esbuild plugin that turns any import of a Node built-in into a build error naming the importer. */
export const noNodeBuiltins: esbuild.Plugin = {
  name: 'no-node-builtins',
  setup(build) {
    build.onResolve({ filter: /.*/ }, (args) => {
      const bare = args.path.split('/')[0] ?? args.path;
      if (
        args.path.startsWith('node:') ||
        NODE_BUILTINS.has(args.path) ||
        (NODE_BUILTINS.has(bare) && !bare.startsWith('@'))
      ) {
        return {
          errors: [
            {
              text: `Node built-in "${args.path}" imported by ${path.relative(process.cwd(), args.importer)}: the edge worker must run without Node APIs`,
            },
          ],
        };
      }
      return undefined;
    });
  },
};

export async function bundleEdge(
  target: EdgeTarget,
  outdir: string,
  options: { minify?: boolean } = {},
): Promise<EdgeBundle> {
  await mkdir(outdir, { recursive: true });
  const file = path.join(outdir, `${target}.mjs`);
  await esbuild.build({
    entryPoints: [ENTRIES[target]],
    outfile: file,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    conditions: ['worker', 'browser'],
    target: 'es2022',
    minify: options.minify ?? true,
    legalComments: 'none',
    logLevel: 'silent',
    plugins: [noNodeBuiltins],
  });
  const bytes = await readFile(file);
  return { target, file, bytes: bytes.length, gzipBytes: gzipSync(bytes).length };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outdir = path.resolve(process.argv[2] ?? path.join(HERE, 'dist'));
  for (const target of Object.keys(ENTRIES) as EdgeTarget[]) {
    const bundle = await bundleEdge(target, outdir);
    console.log(
      `${target}: ${path.relative(process.cwd(), bundle.file)} ${(bundle.bytes / 1024).toFixed(1)} KiB (${(bundle.gzipBytes / 1024).toFixed(1)} KiB gzip)`,
    );
  }
}
