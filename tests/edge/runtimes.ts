// Starts the bundled edge worker in a real runtime: workerd (through miniflare), Deno or Bun, all
// from npm. Each answers plain HTTP on loopback (the TLS proxy's side) and pins the API server's
// CA its own way: workerd in its outbound network config, Deno and Bun from KUBERNETES_CA.
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFile, writeFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import path from 'node:path';
import { Miniflare } from 'miniflare';
import { freePort, ROOT } from '../controlplane/cluster.ts';

export interface RunningWorker {
  name: string;
  /** Milliseconds from starting the runtime to the first answered /healthz. */
  coldStartMs: number;
  fetch(pathname: string, init?: RequestInit): Promise<Response>;
  /** Runs the `scheduled` handler once (workerd only; Deno and Bun run it on an interval). */
  scheduled?(): Promise<void>;
  output(): string;
  stop(): Promise<void>;
}

const BIN = path.join(ROOT, 'node_modules/.bin');

async function waitHealthy(
  fetchFn: (pathname: string) => Promise<Response>,
  alive: () => string | undefined,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const dead = alive();
    if (dead) throw new Error(dead);
    try {
      const res = await fetchFn('/healthz');
      if (res.status === 200) {
        await res.text();
        return;
      }
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`no 200 from /healthz within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export async function startWorkerd(bundle: string, env: Record<string, string>, caPem: string): Promise<RunningWorker> {
  let output = '';
  const started = performance.now();
  const mf = new Miniflare({
    modules: true,
    scriptPath: bundle,
    // Module names are relative to this root; the default (cwd) would need '..' to reach the bundle.
    modulesRoot: path.dirname(bundle),
    compatibilityDate: '2026-04-01',
    bindings: env,
    // workerd's fetch takes no CA bundle: the outbound network trusts exactly the cluster CA (and
    // may reach loopback, where the test's API server listens). In production this is the TLS proxy.
    outboundService: {
      network: { allow: ['public', 'private', 'local'], tlsOptions: { trustedCertificates: [caPem] } },
    },
    handleRuntimeStdio(stdout: Readable, stderr: Readable) {
      stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    },
  });
  const fetchFn = async (pathname: string, init?: RequestInit) =>
    (await mf.dispatchFetch(`http://localhost${pathname}`, init as never)) as unknown as Response;
  try {
    await waitHealthy(fetchFn, () => undefined);
  } catch (error) {
    await mf.dispose();
    throw error;
  }
  const coldStartMs = performance.now() - started;
  return {
    name: 'workerd',
    coldStartMs,
    fetch: fetchFn,
    async scheduled() {
      // Fetcher.scheduled: what Cloudflare's cron trigger calls.
      const worker = (await mf.getWorker()) as unknown as {
        scheduled(options: { cron: string; scheduledTime: Date }): Promise<unknown>;
      };
      await worker.scheduled({ cron: '* * * * *', scheduledTime: new Date() });
    },
    output: () => output,
    stop: () => mf.dispose(),
  };
}

async function startProcess(
  name: string,
  command: string,
  args: string[],
  env: Record<string, string>,
  fixedPort?: number,
): Promise<RunningWorker> {
  const port = fixedPort ?? (await freePort());
  let output = '';
  const started = performance.now();
  const child: ChildProcess = spawn(command, args, {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    // No cleanup timer unless a test asks for one (CLEANUP_INTERVAL in env).
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      CLEANUP_INTERVAL: '0',
      ...env,
      HOST: '127.0.0.1',
      PORT: String(port),
    },
  });
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const base = `http://127.0.0.1:${port}`;
  const fetchFn = (pathname: string, init?: RequestInit) => fetch(`${base}${pathname}`, init);
  const exited = () =>
    child.exitCode !== null || child.signalCode !== null
      ? `${name} exited (${child.exitCode ?? child.signalCode}):\n${output}`
      : undefined;
  try {
    await waitHealthy(fetchFn, exited);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  const coldStartMs = performance.now() - started;
  return {
    name,
    coldStartMs,
    fetch: fetchFn,
    output: () => output,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** workerd itself (no miniflare) with examples/edge/workerd/config.capnp, the self-hosted setup. */
export async function startWorkerdServe(
  bundle: string,
  env: Record<string, string>,
  caPem: string,
): Promise<RunningWorker> {
  const dir = path.dirname(bundle);
  await copyFile(path.join(ROOT, 'examples/edge/workerd/config.capnp'), path.join(dir, 'config.capnp'));
  await writeFile(path.join(dir, 'ca.pem'), caPem);
  const port = await freePort();
  return startProcess(
    'workerd serve',
    path.join(BIN, 'workerd'),
    ['serve', path.join(dir, 'config.capnp'), '--socket-addr', `http=127.0.0.1:${port}`],
    env,
    port,
  );
}

export function startDeno(bundle: string, env: Record<string, string>): Promise<RunningWorker> {
  return startProcess(
    'deno',
    path.join(BIN, 'deno'),
    ['run', '--no-prompt', '--allow-net', '--allow-env', '--allow-read', bundle],
    {
      ...env,
      DENO_NO_UPDATE_CHECK: '1',
    },
  );
}

export function startBun(bundle: string, env: Record<string, string>): Promise<RunningWorker> {
  return startProcess('bun', path.join(BIN, 'bun'), ['run', bundle], env);
}
