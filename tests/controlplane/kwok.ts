// KWOK (sigs.k8s.io/kwok, built by build-kwok.sh into .dev/bin/kwok) for the local control plane:
// one fake node, `kwok-node` at 127.0.0.1, whose pods become Running (KWOK's "fast" stages) and
// answer the kubelet API: exec runs the command on this host in the pod's sandbox directory
// (DIR/sandbox/NAMESPACE/POD), attach and logs read DIR/kwok/logs/NAMESPACE_POD.log, port-forward
// connects to a 127.0.0.1 port. Only pods prepared with preparePod get anything: a pod on the node
// without its ClusterExec has no exec target, and its exec fails.
//
// KWOK serves the kubelet API over HTTPS only to clients with a certificate from the control
// plane's CA (kwok/patches/client-certificate.patch): the kube-apiserver's
// --kubelet-client-certificate. Everything else reaches the pods only through the kube-apiserver,
// and so through the admission webhook.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, openSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const HERE = path.join(ROOT, 'tests/controlplane');
export const KWOK_BINARY = path.join(ROOT, '.dev/bin/kwok');
/** KWOK's CRDs and stages, copied by build-kwok.sh from the module it built. */
export const KWOK_DATA = `${KWOK_BINARY}.d`;
export const KWOK_NODE = 'kwok-node';
/** The four KWOK kinds the control plane uses, all cluster-scoped, one object per pod. */
export const KWOK_KINDS = ['ClusterExec', 'ClusterAttach', 'ClusterLogs', 'ClusterPortForward'] as const;
const KWOK_API = 'kwok.x-k8s.io/v1alpha1';

export interface KwokStartOptions {
  dir: string;
  /** Admin kubeconfig (its current context is admin). */
  kubeconfig: string;
  /** Serving certificate and key for 127.0.0.1, from the control plane's CA. */
  certFile: string;
  keyFile: string;
  /** The CA whose client certificates may call the kubelet API (the kube-apiserver's). */
  clientCaFile: string;
  port: number;
  logFile: string;
  /** `kubectl apply` as admin. */
  apply(manifest: object | readonly object[]): Promise<void>;
  /** kubectl as admin; resolves with the exit code and output. */
  kubectl(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  track(child: ChildProcess): void;
  log(line: string): void;
}

export interface Kwok {
  nodeName: string;
  /** The kubelet API port on 127.0.0.1. */
  port: number;
  log: string;
  /** DIR/sandbox: one directory per prepared pod below it. */
  sandboxRoot: string;
  /** The pod's working directory on this host, where its exec commands run (absolute). */
  sandbox(namespace: string, pod: string): string;
  /** The file attach and logs read for the pod (CRI log format: write to it with `print`). */
  logFile(namespace: string, pod: string): string;
  /** Makes the pod's "container" print `text` (one line each): what kubectl logs and attach show. */
  print(namespace: string, pod: string, text: string, stream?: 'stdout' | 'stderr'): void;
  /**
   * Creates the pod's sandbox and log file and its ClusterExec, ClusterAttach and ClusterLogs
   * (every container of the pod shares them). Call it before creating the pod; returns the sandbox.
   */
  preparePod(namespace: string, pod: string): Promise<string>;
  /** Port-forwards to the pod's `podPort` reach 127.0.0.1:`localPort` (a ClusterPortForward). */
  forward(namespace: string, pod: string, podPort: number, localPort: number): Promise<void>;
  process(): ChildProcess | undefined;
  stop(): Promise<void>;
}

/** Builds .dev/bin/kwok unless it is up to date (build-kwok.sh), relaying progress. */
export async function ensureKwok(log: (line: string) => void): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    const child = spawn('bash', [path.join(HERE, 'build-kwok.sh'), KWOK_BINARY], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let pending = '';
    let all = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      all += chunk;
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) if (line) log(line);
    });
    child.once('error', reject);
    child.once('close', (status) => {
      if (pending) log(pending);
      if (status !== 0)
        reject(new Error(`building KWOK failed (exit ${status}):\n${all.split('\n').slice(-40).join('\n')}`));
      else resolve();
    });
  });
  return KWOK_BINARY;
}

/**
 * Ours, next to KWOK's stages: an ephemeral container added to a Running pod (kubectl debug) is
 * reported running, as a kubelet would once it started it.
 */
const EPHEMERAL_CONTAINERS_STAGE = `apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-ephemeral-containers-running
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'
    - key: '.status.phase'
      operator: 'In'
      values:
      - 'Running'
    - key: '((.spec.ephemeralContainers // []) | length) > ((.status.ephemeralContainerStatuses // []) | length)'
      operator: 'In'
      values:
      - 'true'
  next:
    statusTemplate: |
      {{ $now := Now }}
      ephemeralContainerStatuses:
      {{ range .spec.ephemeralContainers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: false
        restartCount: 0
        state:
          running:
            startedAt: {{ $now | Quote }}
      {{ end }}`;

/** Object names: `NAMESPACE.POD` (and `.PORT`), valid DNS subdomains for valid pod names. */
const objectName = (namespace: string, pod: string, suffix?: number) =>
  `${namespace}.${pod}${suffix === undefined ? '' : `.${suffix}`}`;

function yamlDocuments(file: string): string[] {
  return readFileSync(file, 'utf8')
    .split(/^---\s*$/m)
    .map((doc) => doc.trim())
    .filter((doc) => doc && !/^(#.*\n?)*$/.test(doc));
}

function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Installs KWOK's CRDs, starts KWOK, registers the node and waits until it is Ready. */
export async function startKwok(options: KwokStartOptions): Promise<Kwok> {
  const binary = await ensureKwok(options.log);
  const home = path.join(options.dir, 'kwok');
  const logsDir = path.join(home, 'logs');
  const sandboxRoot = path.join(options.dir, 'sandbox');
  await mkdir(logsDir, { recursive: true });
  await mkdir(sandboxRoot, { recursive: true });

  const crds = path.join(KWOK_DATA, 'crds');
  const crdFiles = readdirSync(crds).filter((name) => name.endsWith('.yaml'));
  const applied = await options.kubectl(['apply', ...crdFiles.flatMap((name) => ['-f', path.join(crds, name)])]);
  if (applied.code !== 0) throw new Error(`applying KWOK's CRDs failed: ${applied.stderr.trim()}`);
  const established = await options.kubectl([
    'wait',
    '--for=condition=Established',
    '--timeout=60s',
    ...crdFiles.map((name) => `crd/${name.replace(/^kwok\.x-k8s\.io_(.*)\.yaml$/, '$1')}.kwok.x-k8s.io`),
  ]);
  if (established.code !== 0) throw new Error(`KWOK's CRDs not established: ${established.stderr.trim()}`);

  // KWOK's own configuration: only its stages (node initialisation; pods Pending → Running,
  // deletion). The per-pod exec, attach, logs and port-forward rules are CRD objects.
  const stagesDir = path.join(KWOK_DATA, 'stages');
  const stages = readdirSync(stagesDir)
    .filter((name) => name.endsWith('.yaml'))
    .sort()
    .flatMap((name) => yamlDocuments(path.join(stagesDir, name)));
  const config = path.join(home, 'kwok.yaml');
  await writeFile(
    config,
    `# Written by tests/controlplane/kwok.ts: KWOK's "fast" node and pod stages, and one of ours.\n${[...stages, EPHEMERAL_CONTAINERS_STAGE].join('\n---\n')}\n`,
  );

  const args = [
    `--parent-pid=${process.pid}`,
    `--config=${config}`,
    `--kubeconfig=${options.kubeconfig}`,
    `--manage-single-node=${KWOK_NODE}`,
    '--node-ip=127.0.0.1',
    `--node-port=${options.port}`,
    `--server-address=127.0.0.1:${options.port}`,
    `--tls-cert-file=${options.certFile}`,
    `--tls-private-key-file=${options.keyFile}`,
    `--enable-crds=${KWOK_KINDS.join(',')}`,
  ];
  options.log(
    `starting KWOK: node ${KWOK_NODE}, kubelet API on https://127.0.0.1:${options.port} (log: ${path.relative(process.cwd(), options.logFile) || options.logFile})`,
  );
  const started = Date.now();
  const fd = openSync(options.logFile, 'a');
  // A small environment: the commands KWOK runs for exec inherit it, and must not see ours.
  const child = spawn(binary, args, {
    stdio: ['ignore', fd, fd],
    detached: true,
    cwd: home,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home,
      LANG: 'C.UTF-8',
      KWOK_CLIENT_CA_FILE: options.clientCaFile,
    },
  });
  closeSync(fd);
  options.track(child);
  let current: ChildProcess | undefined = child;

  const stop = async (): Promise<void> => {
    const c = current;
    current = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => c.kill('SIGKILL'), 5_000);
      c.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      c.kill('SIGTERM');
    });
  };

  try {
    await options.apply({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: KWOK_NODE,
        labels: { 'kubernetes.io/hostname': KWOK_NODE, type: 'kwok' },
        annotations: { 'kwok.x-k8s.io/node': 'fake' },
      },
    });
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(
          `KWOK exited (${child.exitCode ?? child.signalCode}) during start-up; ${options.logFile}:\n${tail(options.logFile)}`,
        );
      }
      const ready = await options.kubectl([
        'get',
        'node',
        KWOK_NODE,
        '-o',
        'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
      ]);
      if (ready.code === 0 && ready.stdout.trim() === 'True') break;
      if (Date.now() > deadline)
        throw new Error(`node ${KWOK_NODE} not Ready within 60 s; ${options.logFile}:\n${tail(options.logFile)}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    options.log(`KWOK node ${KWOK_NODE} Ready after ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } catch (error) {
    await stop();
    throw error;
  }

  const sandbox = (namespace: string, pod: string) => path.join(sandboxRoot, namespace, pod);
  const logFile = (namespace: string, pod: string) => path.join(logsDir, `${namespace}_${pod}.log`);
  const selector = (namespace: string, pod: string) => ({ matchNamespaces: [namespace], matchNames: [pod] });

  return {
    nodeName: KWOK_NODE,
    port: options.port,
    log: options.logFile,
    sandboxRoot,
    sandbox,
    logFile,
    print(namespace, pod, text, stream = 'stdout') {
      // The CRI log format KWOK parses: TIMESTAMP STREAM F(ull line) TEXT.
      const lines = text.replace(/\n$/, '').split('\n');
      appendFileSync(
        logFile(namespace, pod),
        lines.map((line) => `${new Date().toISOString()} ${stream} F ${line}\n`).join(''),
      );
    },
    async preparePod(namespace, pod) {
      const workDir = sandbox(namespace, pod);
      await mkdir(workDir, { recursive: true });
      await writeFile(logFile(namespace, pod), '', { flag: 'a' });
      const metadata = { name: objectName(namespace, pod), labels: { 'kube-request-access.io/sandbox': 'true' } };
      await options.apply([
        {
          apiVersion: KWOK_API,
          kind: 'ClusterExec',
          metadata,
          spec: {
            selector: selector(namespace, pod),
            execs: [
              {
                local: {
                  workDir,
                  envs: [
                    { name: 'HOME', value: workDir },
                    { name: 'POD_NAMESPACE', value: namespace },
                    { name: 'POD_NAME', value: pod },
                  ],
                },
              },
            ],
          },
        },
        {
          apiVersion: KWOK_API,
          kind: 'ClusterAttach',
          metadata,
          spec: { selector: selector(namespace, pod), attaches: [{ logsFile: logFile(namespace, pod) }] },
        },
        {
          apiVersion: KWOK_API,
          kind: 'ClusterLogs',
          metadata,
          spec: { selector: selector(namespace, pod), logs: [{ logsFile: logFile(namespace, pod), follow: true }] },
        },
      ]);
      return workDir;
    },
    async forward(namespace, pod, podPort, localPort) {
      await options.apply({
        apiVersion: KWOK_API,
        kind: 'ClusterPortForward',
        metadata: { name: objectName(namespace, pod, podPort), labels: { 'kube-request-access.io/sandbox': 'true' } },
        spec: {
          selector: selector(namespace, pod),
          forwards: [{ ports: [podPort], target: { address: '127.0.0.1', port: localPort } }],
        },
      });
    },
    process: () => current,
    stop,
  };
}
