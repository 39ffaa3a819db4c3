// Shared pieces of the kube-request-access end-to-end tests: objects as users would write them,
// real kubectl runs and raw exec probes classified by what the apiserver answered, extra webhook
// server processes (the real `serve` command) and a TCP round-robin in front of them (what a
// Service with two endpoints does).
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../adapters/ports.ts';
import { ROOT, freePort, type ControlPlane, type KubectlResult, type User } from '../controlplane/cluster.ts';

export const API_VERSION = 'kube-request-access.io/v1';

export interface LoggedLine {
  level: string;
  msg: string;
  fields?: Record<string, unknown>;
}

/** A Logger that keeps what it is told above debug, in `logged`: e.g. how each cache synced. */
export function recordingLogger(): { logger: Logger; logged: LoggedLine[] } {
  const logged: LoggedLine[] = [];
  const keep = (level: string) => (msg: string, fields?: Record<string, unknown>) =>
    void logged.push({ level, msg, fields });
  return { logger: { debug: () => {}, info: keep('info'), warn: keep('warn'), error: keep('error') }, logged };
}

export function pod(name: string, namespace: string, containers = ['app', 'sidecar']) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace },
    spec: { containers: containers.map((c) => ({ name: c, image: 'busybox' })) },
  };
}

/**
 * A pod on the KWOK node of a control plane started with `kwok: true`: its sandbox directory
 * (where exec runs commands) and ClusterExec/Attach/Logs are prepared, `spec.nodeName` is the KWOK
 * node, and it is Running when this resolves. Returns the sandbox directory on this host.
 */
export async function runningPod(
  cp: ControlPlane,
  name: string,
  namespace: string,
  containers = ['app', 'sidecar'],
): Promise<string> {
  if (!cp.kwok) throw new Error('runningPod needs startControlPlane({ kwok: true })');
  const sandbox = await cp.kwok.preparePod(namespace, name);
  const manifest = pod(name, namespace, containers);
  await cp.apply({ ...manifest, spec: { ...manifest.spec, nodeName: cp.kwok.nodeName } });
  await waitFor(
    `pod ${namespace}/${name} Running on ${cp.kwok.nodeName}`,
    async () =>
      (await cp.kubectl('admin', ['get', 'pod', name, '-n', namespace, '-o', 'jsonpath={.status.phase}'])).stdout ===
      'Running',
    30_000,
    100,
  );
  return sandbox;
}

/** `kubectl request --context USER ARGS…` through the plugin of this checkout (bin/kubectl-request.mjs). */
export function kubectlRequest(cp: ControlPlane, user: User, args: readonly string[]): Promise<KubectlResult> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [path.join(ROOT, 'bin/kubectl-request.mjs'), '--kubeconfig', cp.kubeconfig, '--context', user, ...args],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, NO_COLOR: '1' },
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

export function accessRequest(options: {
  name: string;
  namespace: string;
  user: string;
  pod: string;
  container?: string;
  command?: string[];
  validFor?: string;
  stdin?: boolean;
  tty?: boolean;
}) {
  return {
    apiVersion: API_VERSION,
    kind: 'AccessRequest',
    metadata: { name: options.name, namespace: options.namespace },
    spec: {
      userInfo: { username: options.user },
      forObject: {
        resource: { group: '', version: 'v1', resource: 'pods' },
        subResource: 'exec',
        name: options.pod,
        namespace: options.namespace,
      },
      ...(options.validFor ? { validFor: options.validFor } : {}),
      execOptions: {
        stdout: true,
        stderr: true,
        ...(options.stdin ? { stdin: true } : {}),
        ...(options.tty ? { tty: true } : {}),
        container: options.container ?? 'app',
        command: options.command ?? ['ls'],
      },
    },
  };
}

/**
 * An AccessGrant. `create` pins it to the request's current uid (as `kubectl request grant`
 * does) unless `uid` is given; `uid: null` writes a grant that pins nothing.
 */
export function accessGrant(options: {
  name: string;
  namespace: string;
  grantFor: string;
  by: string;
  status?: 'granted' | 'denied';
  uid?: string | null;
}) {
  return {
    apiVersion: API_VERSION,
    kind: 'AccessGrant',
    metadata: { name: options.name, namespace: options.namespace },
    spec: {
      grantFor: options.grantFor,
      grantedBy: { username: options.by },
      ...(options.uid === undefined ? {} : { grantForUID: options.uid }),
    },
    status: options.status ?? 'granted',
  };
}

/** The uid of an AccessRequest (read as admin), or undefined when there is none. */
export async function requestUid(cp: ControlPlane, namespace: string, name: string): Promise<string | undefined> {
  const result = await cp.kubectl('admin', [
    'get',
    'accessrequest',
    '-n',
    namespace,
    name,
    '-o',
    'jsonpath={.metadata.uid}',
  ]);
  return result.code === 0 && result.stdout ? result.stdout : undefined;
}

/** What `kubectl request grant` writes: the grant pinned to the request object it names. */
async function pinned(cp: ControlPlane, obj: object): Promise<object> {
  const grant = obj as {
    kind?: string;
    metadata: { namespace: string };
    spec: { grantFor: string; grantForUID?: string | null };
  };
  if (grant.kind !== 'AccessGrant') return obj;
  const { grantForUID, ...spec } = grant.spec;
  if (grantForUID === null) return { ...grant, spec };
  if (grantForUID !== undefined) return obj;
  const uid = await requestUid(cp, grant.metadata.namespace, grant.spec.grantFor);
  return uid ? { ...grant, spec: { ...spec, grantForUID: uid } } : obj;
}

/** `kubectl create -f -` as `user`. */
export async function create(cp: ControlPlane, user: User, obj: object, extra: string[] = []): Promise<KubectlResult> {
  return cp.kubectl(user, ['create', '-f', '-', ...extra], { input: JSON.stringify(await pinned(cp, obj)) });
}

export async function mustCreate(cp: ControlPlane, user: User, obj: object): Promise<void> {
  const result = await create(cp, user, obj);
  if (result.code !== 0) throw new Error(`kubectl create as ${user} failed: ${result.stderr}`);
}

export type Outcome = 'allowed' | 'denied' | 'forbidden' | 'webhook-unreachable' | 'other';

/**
 * What the apiserver did with an exec: `allowed` = admission passed and the pod has no node
 * (400 "does not have a host assigned"); `denied` = our webhook refused (403 with our message);
 * `forbidden` = RBAC refused before admission; `webhook-unreachable` = failurePolicy Fail.
 */
export function outcome(text: string): Outcome {
  if (/does not have a host assigned/.test(text)) return 'allowed';
  // (kubectl prints the message; a raw API answer is JSON with escaped quotes)
  if (/admission webhook \\?"[^"\\]+\\?" denied the request/.test(text)) return 'denied';
  if (/failed calling webhook/.test(text)) return 'webhook-unreachable';
  if (/cannot (create|get) resource "pods\/exec"/.test(text)) return 'forbidden';
  return 'other';
}

/**
 * Real `kubectl exec` as `user`. kubectl ≥ 1.30 tries WebSocket first and, when the upgrade is
 * refused (our pods have no node, so every allowed exec ends in 400), retries over SPDY: one
 * kubectl exec then reaches the webhook twice. `spdy: true` makes it one call, as a real
 * cluster with a kubelet does.
 */
export async function kubectlExec(
  cp: ControlPlane,
  user: User,
  options: { namespace: string; pod: string; container?: string; command?: string[]; flags?: string[]; spdy?: boolean },
): Promise<{ outcome: Outcome; stderr: string }> {
  const args = [
    'exec',
    '-n',
    options.namespace,
    options.pod,
    ...(options.container ? ['-c', options.container] : []),
    ...(options.flags ?? []),
    '--',
    ...(options.command ?? ['ls']),
  ];
  const previous = process.env.KUBECTL_REMOTE_COMMAND_WEBSOCKETS;
  if (options.spdy) process.env.KUBECTL_REMOTE_COMMAND_WEBSOCKETS = 'false';
  try {
    const result = await cp.kubectl(user, args, { timeoutMs: 30_000 });
    return { outcome: result.code === 0 ? 'other' : outcome(result.stderr), stderr: result.stderr };
  } finally {
    if (options.spdy) {
      if (previous === undefined) delete process.env.KUBECTL_REMOTE_COMMAND_WEBSOCKETS;
      else process.env.KUBECTL_REMOTE_COMMAND_WEBSOCKETS = previous;
    }
  }
}

/**
 * One exec as a single API call (POST …/pods/P/exec, what SPDY kubectl sends), with the user's
 * bearer token: exactly one admission review per call, for counting.
 */
export function execProbe(
  cp: ControlPlane,
  user: User,
  options: { namespace: string; pod: string; container?: string; command?: string[]; stdin?: boolean; tty?: boolean },
): Promise<{ status: number; body: string; outcome: Outcome }> {
  const query = new URLSearchParams();
  for (const arg of options.command ?? ['ls']) query.append('command', arg);
  query.set('stdout', 'true');
  if (!options.tty) query.set('stderr', 'true'); // kubectl -t sends no stderr
  if (options.container) query.set('container', options.container);
  if (options.stdin) query.set('stdin', 'true');
  if (options.tty) query.set('tty', 'true');
  const url = `${cp.server}/api/v1/namespaces/${options.namespace}/pods/${options.pod}/exec?${query}`;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', ca: cp.caPem, headers: { authorization: `Bearer ${cp.tokens[user]}` }, timeout: 20_000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, outcome: outcome(body) }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('exec probe timed out')));
    req.on('error', reject);
    req.end();
  });
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 10_000,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

export async function getJson<T = { items: unknown[] }>(cp: ControlPlane, args: string[]): Promise<T> {
  const result = await cp.kubectl('admin', ['get', ...args, '-o', 'json']);
  if (result.code !== 0) throw new Error(`kubectl get ${args.join(' ')}: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

export async function roleBindings(
  cp: ControlPlane,
  namespace: string,
): Promise<{ metadata: { name: string }; subjects: { name: string }[]; roleRef: { name: string } }[]> {
  const list = await getJson<{ items: never[] }>(cp, [
    'rolebindings',
    '-n',
    namespace,
    '-l',
    'app.kubernetes.io/managed-by=kube-request-access',
  ]);
  return list.items;
}

/** Whether a one-shot AccessRequest was used: marked (status.usedAt), or already cleaned up. */
export async function isUsed(cp: ControlPlane, namespace: string, name: string): Promise<boolean> {
  const result = await cp.kubectl('admin', [
    'get',
    'accessrequest',
    '-n',
    namespace,
    name,
    '-o',
    'jsonpath={.status.usedAt}',
  ]);
  if (result.code !== 0) {
    if (/NotFound|not found/.test(result.stderr)) return true;
    throw new Error(`kubectl get accessrequest ${namespace}/${name}: ${result.stderr}`);
  }
  return result.stdout.trim() !== '';
}

export async function exists(cp: ControlPlane, kind: string, namespace: string, name: string): Promise<boolean> {
  const result = await cp.kubectl('admin', ['get', kind, '-n', namespace, name, '-o', 'name']);
  if (result.code === 0) return true;
  if (/NotFound|not found/.test(result.stderr)) return false;
  throw new Error(`kubectl get ${kind} ${namespace}/${name}: ${result.stderr}`);
}

/** A webhook server process (the real `serve` command) on its own port. */
export interface ServeProcess {
  port: number;
  log: string;
  stop(): Promise<void>;
}

export async function startServe(
  cp: ControlPlane,
  name: string,
  args: readonly string[],
  port?: number,
): Promise<ServeProcess> {
  const listen = port ?? (await freePort());
  const log = path.join(cp.dir, 'logs', `${name}.log`);
  const fd = openSync(log, 'a');
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--import',
      path.join(ROOT, 'tests/controlplane/parent-watchdog.ts'),
      path.join(ROOT, 'adapters/node/main.ts'),
      'serve',
      // serve refuses a flag given twice: the caller's own credentials replace the admin's.
      ...(args.includes('--kubeconfig') ? [] : ['--kubeconfig', cp.kubeconfig, '--context', 'admin']),
      '--address',
      `127.0.0.1:${listen}`,
      '--cert-file',
      cp.webhookCert,
      '--key-file',
      cp.webhookKey,
      // Like the control plane's own webhook: only the kube-apiserver's client certificate reviews.
      ...(args.includes('--client-ca-file') ? [] : ['--client-ca-file', cp.webhookClientCaFile]),
      ...args,
    ],
    { cwd: ROOT, stdio: ['ignore', fd, fd], env: { ...process.env, KRA_PARENT_PID: String(process.pid) } },
  );
  closeSync(fd);
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM');
    });
  process.once('exit', () => child.kill('SIGKILL'));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`serve ${name} exited early:\n${readFileSync(log, 'utf8').slice(-2000)}`);
    const ready = await new Promise<boolean>((resolve) => {
      const req = request(`https://127.0.0.1:${listen}/readyz`, { ca: cp.caPem, timeout: 2000 }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on('error', () => resolve(false));
      req.on('timeout', () => req.destroy());
      req.end();
    });
    if (ready) return { port: listen, log, stop };
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`serve ${name} not ready within 60 s:\n${readFileSync(log, 'utf8').slice(-2000)}`);
    }
    await sleep(200);
  }
}

/** Round-robin TCP forwarding (TLS passes through): two webhook replicas behind one address. */
export async function roundRobin(
  port: number,
  backends: readonly number[],
): Promise<{ close(): Promise<void>; connections: number[] }> {
  const connections = backends.map(() => 0);
  let next = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const index = next++ % backends.length;
    connections[index]!++;
    const upstream = createConnection({ host: '127.0.0.1', port: backends[index]! });
    sockets.add(client);
    sockets.add(upstream);
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export interface ReviewLine {
  uid: string;
  allowed: boolean;
  operation: string;
  name: string;
  dryRun: boolean;
  message: string;
  ms: number;
}

/**
 * The reviews in a webhook server log, one per review: an audited review's line is its (first)
 * audit line, which carries the outcome (`review: {...}`, adapters/audit/log.ts); the others have
 * a line with msg "review".
 */
export function reviews(log: string): ReviewLine[] {
  const seen = new Set<string>();
  const found: ReviewLine[] = [];
  for (const line of readFileSync(log, 'utf8').split('\n')) {
    let review: ReviewLine | undefined;
    if (line.includes('"msg":"review"')) {
      review = JSON.parse(line) as ReviewLine;
    } else if (line.includes('"log":"audit"') && line.includes('"review":')) {
      const audit = JSON.parse(line) as {
        review?: { operation: string; allowed: boolean; message: string; ms: number };
        data?: { request?: { uid?: string; name?: string; dryRun?: boolean } };
      };
      const request = audit.data?.request ?? {};
      if (audit.review)
        review = {
          uid: request.uid ?? '',
          name: request.name ?? '',
          dryRun: request.dryRun ?? false,
          operation: audit.review.operation,
          allowed: audit.review.allowed,
          message: audit.review.message,
          ms: audit.review.ms,
        };
    }
    if (!review || seen.has(review.uid)) continue;
    seen.add(review.uid);
    found.push(review);
  }
  return found;
}

/**
 * `kubectl get acr -n NAMESPACE` as a table: one record per row, keyed by the header's column
 * names. Cells are cut at the header's column offsets (kubectl aligns them), so empty cells (the
 * WINDOW of a one-shot request) stay in their column.
 */
export async function getTable(cp: ControlPlane, args: readonly string[]): Promise<Record<string, string>[]> {
  const result = await cp.kubectl('admin', ['get', ...args]);
  if (result.code !== 0) throw new Error(`kubectl get ${args.join(' ')}: ${result.stderr}`);
  const [header = '', ...rows] = result.stdout.split('\n').filter((line) => line.trim() !== '');
  const columns = [...header.matchAll(/\S+/g)].map((m) => ({ name: m[0], start: m.index }));
  return rows.map((row) =>
    Object.fromEntries(
      columns.map((column, i) => [column.name, row.slice(column.start, columns[i + 1]?.start ?? row.length).trim()]),
    ),
  );
}

/** Waits until `kubectl get acr` shows the request with STATE `state`; answers its row. */
export function waitForState(
  cp: ControlPlane,
  namespace: string,
  name: string,
  state: string,
  timeoutMs = 10_000,
): Promise<Record<string, string>> {
  return waitFor(
    `AccessRequest ${namespace}/${name} to show STATE ${state}`,
    async () => (await getTable(cp, ['acr', '-n', namespace])).find((row) => row.NAME === name && row.STATE === state),
    timeoutMs,
    100,
  );
}
