#!/usr/bin/env node
// Entry point of the webhook server. An installed package runs the bundle in dist/server/ (built by
// `node scripts/build.mjs` at prepack): no tsx at run time. A git checkout runs the TypeScript
// sources through tsx, so a stale bundle never shadows them; KUBE_REQUEST_ACCESS_BUNDLE=1 forces
// the bundle.
import { existsSync } from 'node:fs';

const bundle = new URL('../dist/server/main.mjs', import.meta.url);
const checkout = existsSync(new URL('../.git', import.meta.url));
let main;
if (existsSync(bundle) && (!checkout || process.env.KUBE_REQUEST_ACCESS_BUNDLE === '1')) {
  ({ main } = await import(bundle.href));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../adapters/node/main.ts'));
}
const { runMain } = await import('citty');
await runMain(main);
