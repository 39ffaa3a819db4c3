#!/usr/bin/env node
// Bundles the CLI into cli/dist/ so the installed plugin starts without tsx (tsx's loader alone
// costs ~200 ms of CPU per run). Subcommands stay separate chunks, loaded lazily as in the sources;
// npm packages stay external. bin/kubectl-request.mjs uses cli/dist/ when present, else tsx.
// Run: node cli/build.mjs   (meant for prepack; esbuild is a devDependency)
import { build } from 'esbuild';
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const outdir = fileURLToPath(new URL('./dist/', import.meta.url));
await rm(outdir, { recursive: true, force: true });
await build({
  entryPoints: { main: fileURLToPath(new URL('./main.ts', import.meta.url)) },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  outExtension: { '.js': '.mjs' },
  logLevel: 'warning',
});
console.error(`built ${outdir}`);
