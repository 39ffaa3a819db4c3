// Drives a server from a separate load-generator process pinned to its own core: h2load (Debian's
// nghttp2-client, native) when installed, else bench/node-load.ts (clearly labelled in the output).
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { latencySummary, parseH2load, parseH2loadLog } from './stats.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));

export type Generator = 'h2load' | 'node';

export function hasCommand(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

export function h2loadVersion(): string | undefined {
  const result = spawnSync('h2load', ['--version'], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim().split('\n')[0] : undefined;
}

export const INSTALL_H2LOAD =
  'h2load is not installed; install it with: sudo apt-get update && sudo apt-get install -y nghttp2-client (Debian/Ubuntu), brew install nghttp2 (macOS). Falling back to the Node load generator (bench/node-load.ts), which costs more CPU per request.';

/**
 * A server to measure: a checkout and, after `::`, node flags and VAR=value environment for it,
 * e.g. `'.::--max-semi-space-size=4 MALLOC_ARENA_MAX=2'` (bench/idle-rss.ts, bench/ab-cpu.ts).
 */
export interface VariantSpec {
  root: string;
  label: string;
  flags: string[];
  env: Record<string, string>;
}

export function parseVariant(spec: string): VariantSpec {
  const [root = '.', rest = ''] = spec.split('::');
  const words = rest.split(/\s+/).filter(Boolean);
  const isEnv = (w: string) => /^[A-Z_][A-Z0-9_]*=/.test(w);
  const env = Object.fromEntries(
    words.filter(isEnv).map((w) => [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)]),
  );
  const resolved = path.resolve(root);
  return {
    root: resolved,
    label: `${path.basename(resolved)}${rest ? ` ${rest}` : ''}`,
    flags: words.filter((w) => !isEnv(w)),
    env,
  };
}

/** `taskset -c CORE` before the command when taskset exists and pinning is on. */
export function pinned(core: number | undefined, command: string, args: string[]): [string, string[]] {
  if (core === undefined || !hasCommand('taskset')) return [command, args];
  return ['taskset', ['-c', String(core), command, ...args]];
}

export interface LoadOptions {
  url: string;
  /** The request body (POSTed as application/json). */
  body: string;
  proto: 'h1' | 'h2';
  /** Connections. */
  clients: number;
  /** Requests in flight per connection (HTTP/2 streams; 1 for HTTP/1.1). */
  streams: number;
  durationS: number;
  warmupS: number;
  /** Requests per second per connection (open-ish loop); omitted = as fast as answers come. */
  rpsPerClient?: number;
  /** Exact number of requests instead of a duration (used for the end-to-end execs). */
  requests?: number;
  headers?: Record<string, string>;
  core?: number;
  generator: Generator;
  workDir: string;
}

export interface LoadResult {
  rps: number;
  p50_ms: number;
  p99_ms: number;
  count: number;
  /** Status code → count, over the measured requests. */
  statuses: Record<number, number>;
  /** Failed or errored requests (no HTTP answer). */
  failures: number;
  /**
   * The measured phase as h2load logged it (warm-up excluded): from the first answered request's
   * start to the last one's end (epoch ms), and how many were answered in it.
   */
  window?: { startMs: number; endMs: number; answered: number };
}

let runs = 0;

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const id = `${process.pid}-${runs++}`;
  const bodyFile = path.join(options.workDir, `body-${id}.json`);
  const logFile = path.join(options.workDir, `log-${id}.tsv`);
  writeFileSync(bodyFile, options.body);
  try {
    return options.generator === 'h2load'
      ? await h2load(options, bodyFile, logFile)
      : await nodeLoad(options, bodyFile);
  } finally {
    rmSync(bodyFile, { force: true });
    rmSync(logFile, { force: true });
  }
}

function collect(command: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

async function h2load(options: LoadOptions, bodyFile: string, logFile: string): Promise<LoadResult> {
  const args = [
    ...(options.proto === 'h1' ? ['--h1'] : []),
    '-c',
    String(options.clients),
    '-m',
    String(options.streams),
    '-t',
    '1',
    '-d',
    bodyFile,
    '-H',
    'content-type: application/json',
    ...Object.entries(options.headers ?? {}).flatMap(([k, v]) => ['-H', `${k}: ${v}`]),
    '--log-file',
    logFile,
    ...(options.requests !== undefined
      ? ['-n', String(options.requests)]
      : ['-D', String(options.durationS), '--warm-up-time', String(options.warmupS)]),
    ...(options.rpsPerClient ? ['--rps', String(options.rpsPerClient)] : []),
    options.url,
  ];
  const [command, argv] = pinned(options.core, 'h2load', args);
  const result = await collect(command, argv);
  if (result.code !== 0)
    throw new Error(`h2load failed (exit ${result.code}): ${result.stderr || result.stdout}`.slice(0, 2000));
  const summary = parseH2load(result.stdout);
  const all = parseH2loadLog(readFileSync(logFile, 'utf8'));
  // Requests still in flight when a timed run stops are logged without a status (h2load resets
  // those HTTP/2 streams): at most one per stream, not failures of the server.
  const answered = all.filter((entry) => entry.status > 0);
  const unanswered = all.length - answered.length;
  const statuses: Record<number, number> = {};
  for (const entry of answered) statuses[entry.status] = (statuses[entry.status] ?? 0) + 1;
  const latency = latencySummary(answered.map((entry) => entry.micros));
  // h2load counts 4xx/5xx answers as `failed`; the statuses say which. Only requests without an
  // answer fail here.
  const inFlightAtEnd = options.requests === undefined ? options.clients * options.streams : 0;
  let startUs = Number.POSITIVE_INFINITY;
  let endUs = 0;
  for (const entry of answered) {
    if (entry.startUs < startUs) startUs = entry.startUs;
    if (entry.startUs + entry.micros > endUs) endUs = entry.startUs + entry.micros;
  }
  return {
    rps: summary.rps,
    ...latency,
    statuses,
    failures: Math.max(0, summary.errored + unanswered - inFlightAtEnd),
    ...(answered.length && Number.isFinite(startUs)
      ? { window: { startMs: startUs / 1000, endMs: endUs / 1000, answered: answered.length } }
      : {}),
  };
}

async function nodeLoad(options: LoadOptions, bodyFile: string): Promise<LoadResult> {
  const args = [
    '--import',
    'tsx',
    path.join(HERE, 'node-load.ts'),
    '--url',
    options.url,
    '--body-file',
    bodyFile,
    '--proto',
    options.proto,
    '--clients',
    String(options.clients),
    '--streams',
    String(options.streams),
    '--duration',
    String(options.durationS),
    '--warmup',
    String(options.warmupS),
    ...(options.rpsPerClient ? ['--rps', String(options.rpsPerClient)] : []),
    ...(options.requests !== undefined ? ['--requests', String(options.requests)] : []),
    ...Object.entries(options.headers ?? {}).flatMap(([k, v]) => ['--header', `${k}: ${v}`]),
  ];
  const [command, argv] = pinned(options.core, process.execPath, args);
  const result = await collect(command, argv);
  if (result.code !== 0) throw new Error(`node-load failed (exit ${result.code}): ${result.stderr}`.slice(0, 2000));
  return JSON.parse(result.stdout) as LoadResult;
}

/** user + system CPU seconds of a process so far (/proc/PID/stat fields 14 and 15). */
export function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8')
      .replace(/^.*\) /, '')
      .split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** The process's CPU seconds every 50 ms (epoch ms, seconds), to read off the CPU of a measured window. */
export function cpuSampler(pid: number): { stop(): [number, number][] } {
  const samples: [number, number][] = [[Date.now(), cpuSeconds(pid)]];
  const timer = setInterval(() => samples.push([Date.now(), cpuSeconds(pid)]), 50);
  return {
    stop() {
      clearInterval(timer);
      samples.push([Date.now(), cpuSeconds(pid)]);
      return samples;
    },
  };
}

/**
 * Server CPU µs per review over h2load's measured phase only (warm-up excluded): the CPU between
 * the window's first request and its last answer (interpolated between samples), divided by the
 * reviews answered in it. Without a window (the Node load generator), the whole run's CPU over
 * its answers counted as rps × (duration + warm-up), an estimate.
 */
export function cpuPerReview(samples: [number, number][], run: LoadResult, runSeconds: number): number {
  const at = (ms: number): number => {
    let i = samples.findIndex(([t]) => t >= ms);
    if (i <= 0) i = i === 0 ? 1 : samples.length - 1;
    const [t0, c0] = samples[i - 1]!;
    const [t1, c1] = samples[i]!;
    return t1 === t0 ? c1 : c0 + ((c1 - c0) * (ms - t0)) / (t1 - t0);
  };
  if (run.window && run.window.answered > 0)
    return ((at(run.window.endMs) - at(run.window.startMs)) * 1e6) / run.window.answered;
  const used = samples[samples.length - 1]![1] - samples[0]![1];
  return (used * 1e6) / Math.max(1, run.rps * runSeconds);
}

/**
 * `entry` bundled as the production image bundles the server (Dockerfile: esbuild, ESM, packages
 * external) into `outfile`, so it runs with plain `node` and no TypeScript loader in the process.
 */
export function bundleLikeTheImage(entry: string, outfile: string): void {
  const esbuild = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'node_modules', '.bin', 'esbuild');
  const result = spawnSync(
    esbuild,
    [
      entry,
      '--bundle',
      '--platform=node',
      `--target=node${process.versions.node.split('.')[0]}`,
      '--format=esm',
      '--packages=external',
      `--outfile=${outfile}`,
      '--log-level=warning',
    ],
    { encoding: 'utf8' },
  );
  if (result.status !== 0) throw new Error(`esbuild ${entry} failed: ${result.stderr}`);
}
