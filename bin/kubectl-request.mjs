#!/usr/bin/env node
// kubectl-request: `kubectl request …` once this file is on PATH as kubectl-request.
// tsx compiles the TypeScript sources on the fly (cached), so there is no build step.
import { register } from 'tsx/esm/api';

register();
const { runCli } = await import('../cli/main.ts');
process.exitCode = await runCli(process.argv.slice(2));
