#!/usr/bin/env node
// kubectl-request: `kubectl request …` once this file is on PATH as kubectl-request.
// An installed package runs the bundle in cli/dist/ (built by `node cli/build.mjs` at prepack):
// help costs no more than starting node. A git checkout runs the TypeScript sources through tsx,
// so a stale bundle never shadows them; KUBECTL_REQUEST_BUNDLE=1 forces the bundle.
import { existsSync } from 'node:fs';

const bundle = new URL('../cli/dist/main.mjs', import.meta.url);
const checkout = existsSync(new URL('../.git', import.meta.url));
let runCli;
if (existsSync(bundle) && (!checkout || process.env.KUBECTL_REQUEST_BUNDLE === '1')) {
  ({ runCli } = await import(bundle.href));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ runCli } = await import('../cli/main.ts'));
}
process.exitCode = await runCli(process.argv.slice(2));
