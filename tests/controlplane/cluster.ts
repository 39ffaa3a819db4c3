// A real local control plane (embedded etcd + kube-apiserver built from Go modules, see main.go)
// for the end-to-end tests, `npm run controlplane` and `npm run dev`. startControlPlane generates
// PKI and static-token users, starts the binary, waits for /readyz, writes a kubeconfig with one
// context per user, applies RBAC, namespaces, CRDs and the ValidatingWebhookConfiguration, and can
// start and stop the webhook server. Children are tied to this process: they shut down when it dies.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { request } from 'node:https';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCA } from '../support/pki.ts';
import { startKwok, type Kwok } from './kwok.ts';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const HERE = path.join(ROOT, 'tests/controlplane');
export const BINARY = path.join(ROOT, '.dev/bin/controlplane');

export const USERS = ['admin', 'alice', 'bob', 'carol', 'dave'] as const;
export type User = (typeof USERS)[number];

/** Static users: admin is cluster-admin, alice and bob are developers, carol approves, dave has no role. */
export const GROUPS: Record<User, readonly string[]> = {
  admin: ['system:masters'],
  alice: ['developers'],
  bob: ['developers'],
  carol: ['approvers'],
  dave: [],
};

export const NAMESPACES = ['team-a', 'team-b'] as const;
/** The namespaces the local exec webhook excludes, passed to the server as --ungated-namespaces. */
export const UNGATED_NAMESPACES = ['kube-system'] as const;
export const GRANTED_ROLE = 'kube-request-access-granted-exec';
export const WEBHOOK_CONFIGURATION = 'kube-request-access';
/** Webhook names as the apiserver quotes them: `admission webhook "NAME" denied the request: …`. */
export const WEBHOOK_NAMES = {
  exec: 'exec.kube-request-access.io',
  objects: 'objects.kube-request-access.io',
} as const;

export interface ControlPlaneOptions {
  /** Where PKI, kubeconfig, etcd data and logs go. Default `.dev/`; tests pass a temporary directory. */
  dir?: string;
  /** Developers get standing exec/attach/port-forward/ephemeral-container RBAC: the webhook alone gates. */
  developersCanExec?: boolean;
  /** Register the ValidatingWebhookConfiguration (default true). Without it nothing calls the webhook. */
  webhookConfiguration?: boolean;
  /** Start the webhook server once the cluster is set up (true, or its extra arguments). Default false. */
  webhook?: boolean | string[];
  /** Progress lines (build, start-up). Default: stderr with a `[controlplane]` prefix. */
  log?: (line: string) => void;
  /** How long to wait for kube-apiserver /readyz. Default 180 s (first start on a loaded machine). */
  readyTimeoutMs?: number;
  /**
   * Real pods (kwok.ts): KWOK runs node `kwok-node` at 127.0.0.1, and pods with that `nodeName`
   * prepared by `kwok.preparePod` become Running and answer exec (commands run on this host in
   * the pod's sandbox directory), attach, logs and port-forward. Default true: about 1 s more
   * start-up and 70 MB; the first start builds .dev/bin/kwok (build-kwok.sh, a few minutes).
   */
  kwok?: boolean;
  /**
   * More kube-apiserver flags, after the ones set here (runtime flags only: the binary is not
   * rebuilt), e.g. `--audit-policy-file` and `--audit-log-path` for a test of its audit log.
   */
  apiserverArgs?: readonly string[];
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface KubectlOptions {
  input?: string;
  timeoutMs?: number;
  /** Extra environment, e.g. `{ KUBECTL_REMOTE_COMMAND_WEBSOCKETS: 'false' }` for a single SPDY attempt. */
  env?: Record<string, string>;
}

export interface ExecProbe {
  namespace: string;
  pod: string;
  command?: readonly string[];
  container?: string;
  stdin?: boolean;
  tty?: boolean;
  /** Which subresource to probe (default exec). */
  subresource?: 'exec' | 'attach';
}

export interface ProbeResult {
  /** 400 "does not have a host assigned" = allowed (no kubelet here); 403 = denied; 500 = webhook unreachable. */
  status: number;
  message: string;
}

export interface ControlPlane {
  dir: string;
  kubeconfig: string;
  server: string;
  caPem: string;
  caFile: string;
  tokens: Record<User, string>;
  webhookPort: number;
  webhookUrl: string;
  webhookCert: string;
  webhookKey: string;
  /**
   * The CA that signs only the kube-apiserver's webhook client certificate; the webhook runs with
   * `--client-ca-file` set to it, so reviews from anyone else get 401.
   */
  webhookClientCaFile: string;
  /** The client certificate and key the kube-apiserver presents to the webhook (PEM). */
  apiserverWebhookClient: { cert: string; key: string };
  logs: { controlplane: string; webhook: string };
  /** Settles when the control plane process exits, with how it ended (for `npm run controlplane`). */
  exited: Promise<string>;
  /** Runs the real `kubectl --kubeconfig … --context USER ARGS…`; never throws on a non-zero exit. */
  kubectl(user: User, args: readonly string[], options?: KubectlOptions): Promise<KubectlResult>;
  /**
   * One exec admission, without kubectl: `POST /api/v1/namespaces/NS/pods/P/exec?…` with the user's
   * token. Unlike `kubectl exec` it never retries over a second transport, so it reaches the webhook
   * exactly once.
   */
  execProbe(user: User, probe: ExecProbe): Promise<ProbeResult>;
  /** `kubectl apply` as admin (or `user`) of YAML/JSON text, an object, or a list of objects. Throws on failure. */
  apply(manifest: string | object | readonly object[], user?: User): Promise<void>;
  /** Creates or updates the ValidatingWebhookConfiguration pointing at the local webhook. */
  registerWebhook(): Promise<void>;
  /** Spawns the webhook server and waits until its /readyz answers 200. */
  startWebhook(extraArgs?: readonly string[]): Promise<void>;
  stopWebhook(): Promise<void>;
  /** Stops the webhook and the control plane (SIGTERM, SIGKILL after a grace period) and removes etcd data. */
  stop(): Promise<void>;
  /**
   * Kills the control plane process (kube-apiserver and etcd: SIGKILL, a crash, by default) and
   * resolves once it is gone. Its etcd data stays; the webhook server keeps running.
   */
  killControlPlane(signal?: 'SIGKILL' | 'SIGTERM'): Promise<void>;
  /** Starts the control plane again (killing it first if it runs) on the same ports with the same etcd data; resolves at /readyz 200. */
  restartControlPlane(): Promise<void>;
  /** The KWOK node and its pods' sandboxes, with the `kwok` option. */
  kwok?: Kwok;
}

const defaultLog = (line: string): void => {
  process.stderr.write(`[controlplane] ${line}\n`);
};

// Children still running when this process exits get SIGTERM; their parent watchdogs cover the
// cases where no exit handler runs (SIGKILL, a crash of node itself).
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of live) c.kill('SIGTERM');
    });
  }
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function terminate(child: ChildProcess | undefined, graceMs: number): Promise<void> {
  if (!child || exited(child)) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function freePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

interface HttpsResult {
  status: number;
  body: string;
}

function httpsGet(url: string, ca: string, token?: string, timeoutMs = 3000, method = 'GET'): Promise<HttpsResult> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method, ca, headers: token ? { authorization: `Bearer ${token}` } : {}, timeout: timeoutMs },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

interface RunOptions {
  input?: string;
  timeoutMs?: number;
  env?: Record<string, string>;
  onLine?: (line: string) => void;
}

function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<KubectlResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: options.env ? { ...process.env, ...options.env } : process.env,
    });
    track(child);
    let stdout = '';
    let stderr = '';
    let pending = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      if (!options.onLine) return;
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) options.onLine(line);
    });
    const timer = options.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), options.timeoutMs) : undefined;
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      if (pending && options.onLine) options.onLine(pending);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
    child.stdin.on('error', () => {}); // the command may exit before reading its input
    child.stdin.end(options.input ?? '');
  });
}

/** Builds .dev/bin/controlplane unless it is up to date (tests/controlplane/build.sh), relaying progress. */
export async function ensureBinary(log: (line: string) => void = defaultLog): Promise<string> {
  const result = await run('bash', [path.join(HERE, 'build.sh'), BINARY], { onLine: (line) => line && log(line) });
  if (result.code !== 0)
    throw new Error(
      `building the control plane failed (exit ${result.code}):\n${result.stderr.split('\n').slice(-40).join('\n')}`,
    );
  return BINARY;
}

function kubeconfigYaml(server: string, caPem: string, tokens: Record<User, string>): string {
  const ca = Buffer.from(caPem).toString('base64');
  return [
    '# Written by tests/controlplane/cluster.ts; one context per user, regenerated at every start.',
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '  - name: local',
    '    cluster:',
    `      server: ${server}`,
    `      certificate-authority-data: ${ca}`,
    'users:',
    ...USERS.flatMap((user) => [`  - name: ${user}`, '    user:', `      token: ${tokens[user]}`]),
    'contexts:',
    ...USERS.flatMap((user) => [
      `  - name: ${user}`,
      '    context:',
      '      cluster: local',
      `      user: ${user}`,
      '      namespace: team-a',
    ]),
    'current-context: admin',
    '',
  ].join('\n');
}

/**
 * The kubeconfig the kube-apiserver reads (through its AdmissionConfiguration) to find the client
 * certificate it presents when calling a webhook: the `users` entry named after the webhook URL's
 * host:port. No current-context, so calls to any other webhook stay anonymous.
 */
export function webhookClientKubeconfigYaml(webhookHostPort: string, client: { cert: string; key: string }): string {
  const b64 = (pem: string) => Buffer.from(pem).toString('base64');
  return [
    '# Written by tests/controlplane/cluster.ts: the client certificate the kube-apiserver presents to the webhook.',
    'apiVersion: v1',
    'kind: Config',
    'users:',
    `  - name: "${webhookHostPort}"`,
    '    user:',
    `      client-certificate-data: ${b64(client.cert)}`,
    `      client-key-data: ${b64(client.key)}`,
    '',
  ].join('\n');
}

/** `--admission-control-config-file`: the webhook admission plugins read the kubeconfig above. */
export function admissionConfigurationYaml(kubeConfigFile: string): string {
  return [
    'apiVersion: apiserver.config.k8s.io/v1',
    'kind: AdmissionConfiguration',
    'plugins:',
    ...['ValidatingAdmissionWebhook', 'MutatingAdmissionWebhook'].flatMap((name) => [
      `  - name: ${name}`,
      '    configuration:',
      '      apiVersion: apiserver.config.k8s.io/v1',
      '      kind: WebhookAdmissionConfiguration',
      `      kubeConfigFile: ${JSON.stringify(kubeConfigFile)}`,
    ]),
    '',
  ].join('\n');
}

/** The ValidatingWebhookConfiguration of the local setup: every rule the real deployment needs. */
export function webhookConfiguration(url: string, caPem: string): object {
  const common = {
    clientConfig: { url, caBundle: Buffer.from(caPem).toString('base64') },
    failurePolicy: 'Fail',
    sideEffects: 'NoneOnDryRun',
    admissionReviewVersions: ['v1'],
    timeoutSeconds: 5,
    matchPolicy: 'Equivalent',
    // Never an objectSelector: PodExecOptions has no labels, exec would skip the webhook.
  };
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: { name: WEBHOOK_CONFIGURATION },
    webhooks: [
      {
        name: WEBHOOK_NAMES.exec,
        rules: [
          {
            operations: ['CONNECT'],
            apiGroups: [''],
            apiVersions: ['v1'],
            resources: ['pods/exec', 'pods/attach', 'pods/portforward'],
            scope: 'Namespaced',
          },
          {
            operations: ['UPDATE'],
            apiGroups: [''],
            apiVersions: ['v1'],
            resources: ['pods/ephemeralcontainers'],
            scope: 'Namespaced',
          },
        ],
        ...common,
        // The one source of truth for what exec does not gate: the server gets the same list.
        namespaceSelector: {
          matchExpressions: [
            { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [...UNGATED_NAMESPACES] },
          ],
        },
      },
      {
        name: WEBHOOK_NAMES.objects,
        rules: [
          {
            // Every change of who may do what is reviewed, in every namespace: no namespaceSelector.
            operations: ['CREATE', 'UPDATE', 'DELETE'],
            apiGroups: ['kube-request-access.io'],
            apiVersions: ['v1'],
            resources: ['accessrequests', 'accessgrants'],
            scope: 'Namespaced',
          },
          {
            operations: ['UPDATE'],
            apiGroups: ['kube-request-access.io'],
            apiVersions: ['v1'],
            resources: ['accessrequests/status'],
            scope: 'Namespaced',
          },
        ],
        ...common,
      },
    ],
  };
}

function toManifest(manifest: string | object | readonly object[]): string {
  if (typeof manifest === 'string') return manifest;
  if (Array.isArray(manifest)) return JSON.stringify({ apiVersion: 'v1', kind: 'List', items: manifest });
  return JSON.stringify(manifest);
}

export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const log = options.log ?? defaultLog;
  const dir = path.resolve(options.dir ?? path.join(ROOT, '.dev'));
  const pki = path.join(dir, 'pki');
  const logsDir = path.join(dir, 'logs');
  const etcdDir = path.join(dir, 'etcd');
  await mkdir(pki, { recursive: true });
  await mkdir(logsDir, { recursive: true });
  await rm(etcdDir, { recursive: true, force: true });

  const binary = await ensureBinary(log);

  const [apiPort, etcdPort, etcdPeerPort, webhookPort] = (await freePorts(4)) as [number, number, number, number];
  const server = `https://127.0.0.1:${apiPort}`;
  const webhookUrl = `https://127.0.0.1:${webhookPort}/`;

  const ca = await createCA('kube-request-access local CA');
  const apiserverPem = await ca.issue({
    commonName: 'kube-apiserver',
    hosts: ['127.0.0.1', 'localhost', '10.96.0.1', 'kubernetes.default.svc'],
  });
  const webhookPem = await ca.issue({ commonName: 'kube-request-access webhook', hosts: ['127.0.0.1', 'localhost'] });
  // A CA of its own for the apiserver's webhook client certificate. The local CA is the apiserver's
  // --client-ca-file: every user certificate it signs would pass the webhook's check too, and a
  // leaked webhook client certificate would authenticate to the API. With a dedicated CA only the
  // apiserver reaches the webhook, and its certificate is worth nothing anywhere else.
  const webhookClientCa = await createCA('kube-request-access webhook client CA');
  const apiserverWebhookClient = await webhookClientCa.issue({ commonName: 'kube-apiserver', client: true });
  const serviceAccount = generateKeyPairSync('ec', {
    namedCurve: 'P-256',
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const file = (name: string) => path.join(pki, name);
  await writeFile(file('ca.crt'), ca.cert);
  await writeFile(file('ca.key'), ca.key, { mode: 0o600 });
  await writeFile(file('apiserver.crt'), apiserverPem.cert);
  await writeFile(file('apiserver.key'), apiserverPem.key, { mode: 0o600 });
  await writeFile(file('webhook.crt'), webhookPem.cert);
  await writeFile(file('webhook.key'), webhookPem.key, { mode: 0o600 });
  await writeFile(file('webhook-client-ca.crt'), webhookClientCa.cert);
  const admissionKubeconfig = file('apiserver-webhook-client.kubeconfig');
  await writeFile(
    admissionKubeconfig,
    webhookClientKubeconfigYaml(`127.0.0.1:${webhookPort}`, apiserverWebhookClient),
    { mode: 0o600 },
  );
  await writeFile(file('admission-configuration.yaml'), admissionConfigurationYaml(admissionKubeconfig));
  await writeFile(file('sa.key'), serviceAccount.privateKey, { mode: 0o600 });
  await writeFile(file('sa.pub'), serviceAccount.publicKey);

  const tokens = Object.fromEntries(USERS.map((user) => [user, randomBytes(24).toString('hex')])) as Record<
    User,
    string
  >;
  const tokenFile = path.join(dir, 'tokens.csv');
  await writeFile(
    tokenFile,
    USERS.map((user) => `${tokens[user]},${user},${user},"${GROUPS[user].join(',')}"`).join('\n') + '\n',
    { mode: 0o600 },
  );

  const kubeconfig = path.join(dir, 'kubeconfig');
  await writeFile(kubeconfig, kubeconfigYaml(server, ca.cert, tokens), { mode: 0o600 });

  const logs = { controlplane: path.join(logsDir, 'controlplane.log'), webhook: path.join(logsDir, 'webhook.log') };
  // With KWOK: the kube-apiserver reaches the node's kubelet API at its InternalIP (127.0.0.1) and
  // authenticates with a client certificate from the local CA, which KWOK requires; it verifies
  // KWOK's serving certificate against the same CA.
  const withKwok = options.kwok ?? true;
  const kwokPort = withKwok ? await freePort() : 0;
  if (withKwok) {
    const kubeletClient = await ca.issue({ commonName: 'kube-apiserver-kubelet-client', client: true });
    const kwokServing = await ca.issue({ commonName: 'kwok-node', hosts: ['127.0.0.1'] });
    await writeFile(file('apiserver-kubelet-client.crt'), kubeletClient.cert);
    await writeFile(file('apiserver-kubelet-client.key'), kubeletClient.key, { mode: 0o600 });
    await writeFile(file('kwok.crt'), kwokServing.cert);
    await writeFile(file('kwok.key'), kwokServing.key, { mode: 0o600 });
  }
  const kubeletArgs = withKwok
    ? [
        '--kubelet-preferred-address-types=InternalIP',
        `--kubelet-client-certificate=${file('apiserver-kubelet-client.crt')}`,
        `--kubelet-client-key=${file('apiserver-kubelet-client.key')}`,
        `--kubelet-certificate-authority=${file('ca.crt')}`,
      ]
    : [];
  const apiserverArgs = [
    ...kubeletArgs,
    '--bind-address=127.0.0.1',
    `--secure-port=${apiPort}`,
    `--tls-cert-file=${file('apiserver.crt')}`,
    `--tls-private-key-file=${file('apiserver.key')}`,
    `--client-ca-file=${file('ca.crt')}`,
    `--token-auth-file=${tokenFile}`,
    // The client certificate the apiserver presents to the webhook (its --client-ca-file below).
    `--admission-control-config-file=${file('admission-configuration.yaml')}`,
    '--authorization-mode=RBAC',
    // No controller-manager creates default service accounts, so pods would never be admitted.
    '--disable-admission-plugins=ServiceAccount',
    '--service-cluster-ip-range=10.96.0.0/16',
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${file('sa.pub')}`,
    `--service-account-signing-key-file=${file('sa.key')}`,
    // A loopback address cannot be an endpoint of the kubernetes Service; nothing in-cluster needs it.
    '--endpoint-reconciler-type=none',
    '--allow-privileged=true',
    '--profiling=false',
    '--v=1',
    ...(options.apiserverArgs ?? []),
  ];
  const controlplaneArgs = [
    `--parent-pid=${process.pid}`,
    `--etcd-dir=${etcdDir}`,
    `--etcd-port=${etcdPort}`,
    `--etcd-peer-port=${etcdPeerPort}`,
    '--',
    ...apiserverArgs,
  ];

  log(
    `starting kube-apiserver on ${server} (log: ${path.relative(process.cwd(), logs.controlplane) || logs.controlplane})`,
  );
  let resolveExited!: (how: string) => void;
  const controlplaneExited = new Promise<string>((resolve) => (resolveExited = resolve));
  const spawnControlplane = (logFlags: 'w' | 'a'): ChildProcess => {
    const logFd = openSync(logs.controlplane, logFlags);
    // Its own process group: a terminal's Ctrl-C reaches only us, and we stop it in order.
    const child = spawn(binary, controlplaneArgs, { stdio: ['ignore', logFd, logFd], detached: true });
    closeSync(logFd);
    track(child);
    child.once('exit', (code, signal) => {
      if (child !== killed) resolveExited(signal ? `killed by ${signal}` : `exit code ${code}`);
    });
    return child;
  };
  /** The process killControlPlane stopped on purpose: its exit does not settle `exited`. */
  let killed: ChildProcess | undefined;
  let controlplane = spawnControlplane('w');
  let webhookProcess: ChildProcess | undefined;
  let kwok: Kwok | undefined;

  const stopAll = async (): Promise<void> => {
    await kwok?.stop();
    await terminate(webhookProcess, 5_000);
    await terminate(controlplane, 20_000);
    await rm(etcdDir, { recursive: true, force: true });
  };

  try {
    await waitForApiserver(
      server,
      ca.cert,
      tokens.admin,
      controlplane,
      logs.controlplane,
      options.readyTimeoutMs ?? 180_000,
      log,
    );
  } catch (error) {
    await stopAll();
    throw error;
  }

  const kubectl = (user: User, args: readonly string[], kubectlOptions: KubectlOptions = {}): Promise<KubectlResult> =>
    // A discovery cache per cluster keeps ~/.kube/cache free of one directory per random port.
    run(
      'kubectl',
      ['--kubeconfig', kubeconfig, '--context', user, '--cache-dir', path.join(dir, 'kube-cache'), ...args],
      {
        timeoutMs: 60_000,
        ...kubectlOptions,
      },
    );

  const apply = async (manifest: string | object | readonly object[], user: User = 'admin'): Promise<void> => {
    const result = await kubectl(user, ['apply', '-f', '-'], { input: toManifest(manifest) });
    if (result.code !== 0) throw new Error(`kubectl apply failed (exit ${result.code}): ${result.stderr.trim()}`);
  };

  const execProbe = async (user: User, probe: ExecProbe): Promise<ProbeResult> => {
    const query = new URLSearchParams();
    for (const word of probe.command ?? []) query.append('command', word);
    if (probe.container) query.set('container', probe.container);
    query.set('stdout', 'true');
    query.set('stderr', probe.tty ? 'false' : 'true');
    if (probe.stdin) query.set('stdin', 'true');
    if (probe.tty) query.set('tty', 'true');
    const url = `${server}/api/v1/namespaces/${encodeURIComponent(probe.namespace)}/pods/${encodeURIComponent(probe.pod)}/${probe.subresource ?? 'exec'}?${query}`;
    const res = await httpsGet(url, ca.cert, tokens[user], 15_000, 'POST');
    let message = res.body;
    try {
      message = (JSON.parse(res.body) as { message?: string }).message ?? res.body;
    } catch {
      // not a Status object: keep the raw body
    }
    return { status: res.status, message };
  };

  const mustKubectl = async (args: readonly string[]): Promise<string> => {
    const result = await kubectl('admin', args);
    if (result.code !== 0)
      throw new Error(`kubectl ${args.join(' ')} failed (exit ${result.code}): ${result.stderr.trim()}`);
    return result.stdout;
  };

  const registerWebhook = (): Promise<void> => apply(webhookConfiguration(webhookUrl, ca.cert));

  const stopWebhook = async (): Promise<void> => {
    const child = webhookProcess;
    webhookProcess = undefined;
    await terminate(child, 5_000);
  };

  const startWebhook = async (extraArgs: readonly string[] = []): Promise<void> => {
    await stopWebhook();
    const args = [
      '--import',
      'tsx',
      '--import',
      path.join(HERE, 'parent-watchdog.ts'),
      path.join(ROOT, 'adapters/node/main.ts'),
      'serve',
      '--kubeconfig',
      kubeconfig,
      '--address',
      `127.0.0.1:${webhookPort}`,
      '--cert-file',
      file('webhook.crt'),
      '--key-file',
      file('webhook.key'),
      '--client-ca-file',
      file('webhook-client-ca.crt'),
      '--always-allowed-group-name',
      'system:masters',
      '--granted-role-name',
      GRANTED_ROLE,
      '--ungated-namespaces',
      UNGATED_NAMESPACES.join(','),
      ...extraArgs,
    ];
    const fd = openSync(logs.webhook, 'a');
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      stdio: ['ignore', fd, fd],
      detached: true,
      env: { ...process.env, KRA_PARENT_PID: String(process.pid) },
    });
    closeSync(fd);
    track(child);
    webhookProcess = child;
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (exited(child)) {
        webhookProcess = undefined;
        throw new Error(
          `the webhook server exited (${child.exitCode ?? child.signalCode}) before it was ready; ${logs.webhook}:\n${tail(logs.webhook)}`,
        );
      }
      try {
        const res = await httpsGet(`${webhookUrl}readyz`, ca.cert);
        if (res.status === 200) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await stopWebhook();
        throw new Error(
          `the webhook server did not answer /readyz with 200 within 60 s; ${logs.webhook}:\n${tail(logs.webhook)}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  };

  const plane: ControlPlane = {
    dir,
    kubeconfig,
    server,
    caPem: ca.cert,
    caFile: file('ca.crt'),
    tokens,
    webhookPort,
    webhookUrl,
    webhookCert: file('webhook.crt'),
    webhookKey: file('webhook.key'),
    webhookClientCaFile: file('webhook-client-ca.crt'),
    apiserverWebhookClient,
    logs,
    exited: controlplaneExited,
    kubectl,
    execProbe,
    apply,
    registerWebhook,
    startWebhook,
    stopWebhook,
    stop: stopAll,
    async killControlPlane(signal = 'SIGKILL') {
      if (exited(controlplane)) return;
      killed = controlplane;
      await new Promise<void>((resolve) => {
        controlplane.once('exit', () => resolve());
        controlplane.kill(signal);
      });
    },
    async restartControlPlane() {
      await plane.killControlPlane();
      log(`restarting kube-apiserver on ${server} with the etcd data in ${etcdDir}`);
      controlplane = spawnControlplane('a');
      await waitForApiserver(
        server,
        ca.cert,
        tokens.admin,
        controlplane,
        logs.controlplane,
        options.readyTimeoutMs ?? 180_000,
        log,
      );
    },
  };

  try {
    log('applying namespaces and RBAC');
    await apply(NAMESPACES.map((name) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } })));
    await mustKubectl(['apply', '-f', path.join(HERE, 'rbac.yaml')]);
    if (options.developersCanExec) await mustKubectl(['apply', '-f', path.join(HERE, 'rbac-developers-exec.yaml')]);

    const crds = path.join(ROOT, 'manifests/crds');
    const crdFiles = existsSync(crds) ? readdirSync(crds).filter((name) => /\.(ya?ml|json)$/.test(name)) : [];
    if (crdFiles.length === 0) {
      log('warning: manifests/crds/ has no CRDs yet; AccessRequest and AccessGrant are not installed');
    } else {
      log('applying CRDs from manifests/crds/');
      const source = crdFiles.some((name) => /^kustomization\.ya?ml$/.test(name)) ? ['-k', crds] : ['-f', crds];
      await mustKubectl(['apply', ...source]);
      await mustKubectl(['wait', '--for=condition=Established', '--timeout=60s', 'customresourcedefinitions', '--all']);
    }

    if (withKwok)
      plane.kwok = kwok = await startKwokNode(plane, { dir, kubectl, apply, log, port: kwokPort, pki: file });

    if (options.webhookConfiguration !== false) {
      log(`registering ValidatingWebhookConfiguration ${WEBHOOK_CONFIGURATION} → ${webhookUrl}`);
      await registerWebhook();
    }
    if (options.webhook) {
      log('starting the webhook server');
      await startWebhook(Array.isArray(options.webhook) ? options.webhook : []);
    }
  } catch (error) {
    await stopAll();
    throw error;
  }
  return plane;
}

/** KWOK against this control plane (kwok.ts), with the certificates startControlPlane issued. */
function startKwokNode(
  plane: ControlPlane,
  deps: {
    dir: string;
    kubectl: ControlPlane['kubectl'];
    apply: ControlPlane['apply'];
    log: (line: string) => void;
    port: number;
    pki: (name: string) => string;
  },
): Promise<Kwok> {
  return startKwok({
    dir: deps.dir,
    kubeconfig: plane.kubeconfig,
    certFile: deps.pki('kwok.crt'),
    keyFile: deps.pki('kwok.key'),
    clientCaFile: deps.pki('ca.crt'),
    port: deps.port,
    logFile: path.join(deps.dir, 'logs', 'kwok.log'),
    apply: (manifest) => deps.apply(manifest),
    kubectl: (args) => deps.kubectl('admin', args),
    track,
    log: deps.log,
  });
}

async function waitForApiserver(
  server: string,
  ca: string,
  token: string,
  child: ChildProcess,
  logFile: string,
  timeoutMs: number,
  log: (line: string) => void,
): Promise<void> {
  const started = Date.now();
  let lastReport = started;
  let failing = 'not listening yet';
  for (;;) {
    if (exited(child)) {
      throw new Error(
        `the control plane exited (${child.exitCode ?? child.signalCode}) during start-up; ${logFile}:\n${tail(logFile)}`,
      );
    }
    try {
      const res = await httpsGet(`${server}/readyz?verbose`, ca, token);
      if (res.status === 200) {
        log(`kube-apiserver ready after ${((Date.now() - started) / 1000).toFixed(1)} s`);
        return;
      }
      const checks = res.body
        .split('\n')
        .filter((line) => line.startsWith('[-]'))
        .map((line) => line.slice(3).split(' ')[0]);
      failing = checks.length ? `waiting for ${checks.join(', ')}` : `HTTP ${res.status}`;
    } catch (error) {
      failing = error instanceof Error && /ECONNREFUSED/.test(error.message) ? 'not listening yet' : String(error);
    }
    if (Date.now() - started > timeoutMs) {
      throw new Error(
        `kube-apiserver not ready after ${timeoutMs / 1000} s (${failing}); ${logFile}:\n${tail(logFile)}`,
      );
    }
    if (Date.now() - lastReport >= 5_000) {
      lastReport = Date.now();
      log(`waiting for kube-apiserver /readyz (${Math.round((Date.now() - started) / 1000)} s): ${failing}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}
