#!/usr/bin/env node
// Runs node:test (through tsx) on every *.test.ts below the given folders. Node 20's --test takes
// no glob patterns, so the files are listed here. Extra node:test flags may follow `--`.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const split = process.argv.indexOf('--');
const dirs = split === -1 ? process.argv.slice(2) : process.argv.slice(2, split);
const flags = split === -1 ? [] : process.argv.slice(split + 1);
const files = dirs
  .filter((dir) => existsSync(dir))
  .flatMap((dir) => readdirSync(dir, { recursive: true }).map((file) => join(dir, String(file))))
  .filter((file) => file.endsWith('.test.ts'))
  .sort();
if (files.length === 0) {
  console.error(`no *.test.ts files under ${dirs.join(', ')}`);
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...flags, ...files], {
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
