#!/usr/bin/env node
// Entry point of the webhook server: runs the TypeScript sources through tsx.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../adapters/node/main.ts');
const { runMain } = await import('citty');
await runMain(main);
