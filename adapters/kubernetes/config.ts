// Where the Kubernetes credentials come from: an explicit --kubeconfig, else $KUBECONFIG (a list
// of files, merged: the first to name a cluster, user or context wins) or ~/.kube/config, else the
// pod's service account. Read with the `yaml` package, loaded only when there is a kubeconfig to
// read (a pod's service account needs none: 3 MB less resident); what a kubeconfig may say that is not
// supported here (auth-provider, username/password, a proxy) is an error at start, not a server
// that then fails every call.
//
// Supported: a cluster's server, certificate-authority(-data), insecure-skip-tls-verify and
// tls-server-name; a user's client-certificate(-data)/client-key(-data), token, tokenFile, and exec
// credential plugins (client.authentication.k8s.io/v1 and v1beta1 ExecCredential, kept until their
// status.expirationTimestamp). Token files (the service account's is rotated by the kubelet) are
// read again once a minute, and as soon as the token they held expires.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { createRequire } from 'node:module';
import path from 'node:path';

/** The `yaml` package's parser, loaded on the first kubeconfig (synchronously: its Node build is CommonJS). */
const parseYaml = (text: string): unknown =>
  (createRequire(import.meta.url)('yaml') as typeof import('yaml')).parse(text);

const NO_CLUSTER =
  'no Kubernetes cluster configured: pass --kubeconfig, set KUBECONFIG, or run in a pod with a service account (or --objects FILE to run from memory)';
const SUPPORTED =
  'supported: token, tokenFile, client-certificate(-data)/client-key(-data), exec (client.authentication.k8s.io/v1 or v1beta1)';

/** What a call presents to the API server: a bearer token, or a client certificate and key (PEM). */
export interface Credentials {
  token?: string;
  cert?: string;
  key?: string;
}

/** How to reach one API server (our own, not client-node's KubeConfig). */
export interface ClusterConfig {
  /** The API server's URL, e.g. https://127.0.0.1:6443 (http only for tests against a fake server). */
  server: string;
  /** The CA bundle (PEM) to trust; the system's CAs when undefined. */
  ca?: string;
  insecureSkipTLSVerify?: boolean;
  tlsServerName?: string;
  /** Asked before each call (cached inside: a token file is re-read, an exec plugin re-run, when due). */
  credentials(): Promise<Credentials>;
  /** The server answered 401: forget cached credentials, so that the next call gets fresh ones. */
  invalidate?(): void;
}

/** A ClusterConfig from values (tests, benchmarks): a fixed token or client certificate. */
export function clusterConfig(
  options: { server: string; ca?: string; insecureSkipTLSVerify?: boolean } & Credentials,
): ClusterConfig {
  const { server, ca, insecureSkipTLSVerify, ...credentials } = options;
  return {
    server,
    ...(ca ? { ca } : {}),
    ...(insecureSkipTLSVerify ? { insecureSkipTLSVerify } : {}),
    credentials: async () => credentials,
  };
}

export interface LoadOptions {
  kubeconfig?: string;
  context?: string;
  /** Tests: the environment and the service account directory to read instead of the process's. */
  env?: NodeJS.ProcessEnv;
  serviceAccountDir?: string;
}

export function loadKubeConfig(options: LoadOptions = {}): ClusterConfig {
  const env = options.env ?? process.env;
  if (options.kubeconfig) return fromKubeconfig([options.kubeconfig], options.context, env);
  if (env.KUBECONFIG) {
    const files = env.KUBECONFIG.split(path.delimiter).filter(Boolean);
    return fromKubeconfig(files, options.context, env);
  }
  const home = env.HOME ?? homedir();
  const file = path.join(home, '.kube', 'config');
  if (existsSync(file)) return fromKubeconfig([file], options.context, env);
  if (env.KUBERNETES_SERVICE_HOST) {
    if (options.context)
      throw new Error(`--context ${options.context} needs a kubeconfig (--kubeconfig or KUBECONFIG)`);
    return inCluster(env, options.serviceAccountDir ?? '/var/run/secrets/kubernetes.io/serviceaccount');
  }
  throw new Error(NO_CLUSTER);
}

/** The pod's service account: KUBERNETES_SERVICE_HOST/PORT, its CA and its (rotated) token file. */
function inCluster(env: NodeJS.ProcessEnv, dir: string): ClusterConfig {
  const host = env.KUBERNETES_SERVICE_HOST!;
  const port = env.KUBERNETES_SERVICE_PORT || '443';
  const hostPart = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  const tokenPath = path.join(dir, 'token');
  const caPath = path.join(dir, 'ca.crt');
  if (!existsSync(tokenPath))
    throw new Error(
      `in-cluster configuration: no service account token at ${tokenPath} (automountServiceAccountToken?)`,
    );
  const token = fileToken(tokenPath);
  return {
    server: `https://${hostPart}:${port}`,
    ...(existsSync(caPath) ? { ca: readFileSync(caPath, 'utf8') } : {}),
    credentials: async () => ({ token: token.get() }),
    invalidate: token.invalidate,
  };
}

interface Named<T> {
  name?: string;
  cluster?: T;
  user?: T;
  context?: T;
}
type Obj = Record<string, unknown>;

function fromKubeconfig(files: string[], context: string | undefined, env: NodeJS.ProcessEnv): ClusterConfig {
  const clusters = new Map<string, { value: Obj; dir: string }>();
  const users = new Map<string, { value: Obj; dir: string }>();
  const contexts = new Map<string, Obj>();
  let current: string | undefined;
  let readAny = false;
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      // KUBECONFIG may name files that do not exist (kubectl skips them); an explicit one must exist.
      if (files.length > 1 && (error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new Error(`cannot read kubeconfig ${file}: ${(error as Error).message}`);
    }
    readAny = true;
    let doc: Obj | null;
    try {
      doc = parseYaml(text) as Obj | null;
    } catch (error) {
      throw new Error(`kubeconfig ${file} is not valid YAML: ${(error as Error).message}`);
    }
    if (!doc || typeof doc !== 'object') continue;
    const dir = path.dirname(path.resolve(file));
    for (const entry of list<Named<Obj>>(doc.clusters))
      if (entry.name && !clusters.has(entry.name)) clusters.set(entry.name, { value: entry.cluster ?? {}, dir });
    for (const entry of list<Named<Obj>>(doc.users))
      if (entry.name && !users.has(entry.name)) users.set(entry.name, { value: entry.user ?? {}, dir });
    for (const entry of list<Named<Obj>>(doc.contexts))
      if (entry.name && !contexts.has(entry.name)) contexts.set(entry.name, entry.context ?? {});
    if (!current && typeof doc['current-context'] === 'string' && doc['current-context'])
      current = doc['current-context'];
  }
  const where = files.join(path.delimiter);
  if (!readAny) throw new Error(`${NO_CLUSTER} (none of the KUBECONFIG files ${where} exists)`);
  const contextName = context ?? current;
  if (!contextName) throw new Error(`kubeconfig ${where} has no current-context: pass --context`);
  const ctx = contexts.get(contextName);
  if (!ctx) throw new Error(`kubeconfig ${where} has no context ${contextName}`);
  const clusterName = str(ctx.cluster);
  const cluster = clusterName ? clusters.get(clusterName) : undefined;
  if (!cluster) throw new Error(`kubeconfig ${where}: context ${contextName} names no known cluster`);
  const userName = str(ctx.user);
  const user = userName ? users.get(userName) : undefined;
  if (userName && !user) throw new Error(`kubeconfig ${where}: context ${contextName} names no known user ${userName}`);

  const c = cluster.value;
  const server = str(c.server);
  if (!server) throw new Error(`kubeconfig ${where}: cluster ${clusterName} has no server`);
  if (c['proxy-url'])
    throw new Error(`kubeconfig ${where}: cluster ${clusterName} sets proxy-url, which is not supported`);
  const ca = pem(c, 'certificate-authority', cluster.dir);
  // As client-go: a CA that nothing checks is a mistake, not a choice between the two.
  if (ca && c['insecure-skip-tls-verify'] === true)
    throw new Error(
      `kubeconfig ${where}: cluster ${clusterName} sets both a certificate authority and insecure-skip-tls-verify; drop one (kubectl refuses this too)`,
    );
  const tlsServerName = str(c['tls-server-name']);
  return {
    server,
    ...(ca ? { ca } : {}),
    ...(c['insecure-skip-tls-verify'] === true ? { insecureSkipTLSVerify: true } : {}),
    ...(tlsServerName ? { tlsServerName } : {}),
    ...userCredentials(user?.value ?? {}, user?.dir ?? '.', `kubeconfig ${where}: user ${userName}`, env, server),
  };
}

function userCredentials(
  u: Obj,
  dir: string,
  what: string,
  env: NodeJS.ProcessEnv,
  server: string,
): Pick<ClusterConfig, 'credentials' | 'invalidate'> {
  if (u['auth-provider']) throw new Error(`${what} uses an auth-provider, which is not supported (${SUPPORTED})`);
  if (u.username || u.password)
    throw new Error(`${what} uses username/password, which is not supported (${SUPPORTED})`);
  const cert = pem(u, 'client-certificate', dir);
  const key = pem(u, 'client-key', dir);
  if (Boolean(cert) !== Boolean(key))
    throw new Error(`${what} has a client certificate without its key (or a key without its certificate)`);
  const fixed: Credentials = cert && key ? { cert, key } : {};
  if (u.exec) {
    const plugin = execPlugin(u.exec as Obj, dir, what, env, server);
    return {
      credentials: async () => ({ ...fixed, ...(await plugin.get()) }),
      invalidate: plugin.invalidate,
    };
  }
  const token = str(u.token);
  if (token) return { credentials: async () => ({ ...fixed, token }) };
  const tokenFile = str(u.tokenFile);
  if (tokenFile) {
    const file = fileToken(path.resolve(dir, tokenFile));
    return { credentials: async () => ({ ...fixed, token: file.get() }), invalidate: file.invalidate };
  }
  return { credentials: async () => fixed };
}

/** A token read from a file, read again once a minute and as soon as the token it held (a JWT) expired. */
export function fileToken(file: string, now: () => number = Date.now): { get(): string; invalidate(): void } {
  let token: string | undefined;
  let readAt = 0;
  let expiresAt = Infinity;
  return {
    get() {
      const at = now();
      if (token === undefined || at - readAt >= 60_000 || at >= expiresAt) {
        token = readFileSync(file, 'utf8').trim();
        readAt = at;
        expiresAt = jwtExpiry(token) ?? Infinity;
      }
      return token;
    },
    invalidate() {
      token = undefined;
    },
  };
}

function jwtExpiry(token: string): number | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const exp = (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { exp?: unknown }).exp;
    return typeof exp === 'number' ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

const EXEC_VERSIONS = new Set(['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1']);

/** An exec credential plugin: run (without a terminal) when there is no credential or it expired. */
function execPlugin(
  spec: Obj,
  dir: string,
  what: string,
  env: NodeJS.ProcessEnv,
  server: string,
): { get(): Promise<Credentials>; invalidate(): void } {
  const apiVersion = str(spec.apiVersion) ?? '';
  if (!EXEC_VERSIONS.has(apiVersion))
    throw new Error(`${what}: exec plugin apiVersion ${apiVersion || '(none)'} is not supported (${SUPPORTED})`);
  let command = str(spec.command);
  if (!command) throw new Error(`${what}: exec plugin has no command`);
  if (spec.interactiveMode === 'Always')
    throw new Error(`${what}: exec plugin needs a terminal (interactiveMode: Always), which a server does not have`);
  // A relative path with a separator is relative to the kubeconfig; a bare name is looked up on PATH.
  if (command.includes('/') && !path.isAbsolute(command)) command = path.resolve(dir, command);
  const args = Array.isArray(spec.args) ? spec.args.map(String) : [];
  const extraEnv: Record<string, string> = {};
  for (const entry of list<{ name?: unknown; value?: unknown }>(spec.env))
    if (typeof entry.name === 'string') extraEnv[entry.name] = String(entry.value ?? '');
  const info = {
    apiVersion,
    kind: 'ExecCredential',
    spec: { interactive: false, ...(spec.provideClusterInfo === true ? { cluster: { server } } : {}) },
  };
  let cached: { credentials: Credentials; expiresAt: number } | undefined;
  let running: Promise<Credentials> | undefined;
  // After a failed run, calls fail at once with that error until the backoff passes (1 s doubling
  // to 30 s, reset by a success): a broken plugin is not spawned again for every call.
  let failure: { error: Error; until: number; delayMs: number } | undefined;

  const run = () =>
    new Promise<Credentials>((resolve, reject) => {
      execFile(
        command!,
        args,
        {
          env: { ...env, ...extraEnv, KUBERNETES_EXEC_INFO: JSON.stringify(info) },
          timeout: 60_000,
          maxBuffer: 1 << 20,
        },
        (error, stdout, stderr) => {
          if (error) {
            reject(
              new Error(
                `${what}: exec plugin ${command} failed: ${error.message.split('\n')[0]} ${String(stderr).trim().slice(0, 300)}`,
              ),
            );
            return;
          }
          let status: {
            token?: unknown;
            clientCertificateData?: unknown;
            clientKeyData?: unknown;
            expirationTimestamp?: unknown;
          };
          try {
            const answer = JSON.parse(String(stdout)) as { kind?: unknown; status?: typeof status };
            if (answer.kind !== 'ExecCredential' || !answer.status)
              throw new Error('not an ExecCredential with a status');
            status = answer.status;
          } catch (parseError) {
            reject(
              new Error(`${what}: exec plugin ${command} printed no ExecCredential: ${(parseError as Error).message}`),
            );
            return;
          }
          const credentials: Credentials = {};
          if (typeof status.token === 'string' && status.token) credentials.token = status.token;
          if (typeof status.clientCertificateData === 'string' && typeof status.clientKeyData === 'string') {
            credentials.cert = status.clientCertificateData;
            credentials.key = status.clientKeyData;
          }
          if (!credentials.token && !credentials.cert) {
            reject(new Error(`${what}: exec plugin ${command} gave neither a token nor a client certificate`));
            return;
          }
          const expiry = typeof status.expirationTimestamp === 'string' ? Date.parse(status.expirationTimestamp) : NaN;
          cached = { credentials, expiresAt: Number.isFinite(expiry) ? expiry : Infinity };
          resolve(credentials);
        },
      );
    });

  return {
    get() {
      const now = Date.now();
      if (cached && now < cached.expiresAt) return Promise.resolve(cached.credentials);
      if (failure && now < failure.until && !running) {
        const seconds = Math.ceil((failure.until - now) / 1000);
        return Promise.reject(
          new Error(`${failure.error.message} (run again in ${seconds} s)`, { cause: failure.error }),
        );
      }
      // One run at a time, shared by every call waiting for it.
      running ??= run()
        .then(
          (credentials) => {
            failure = undefined;
            return credentials;
          },
          (error: Error) => {
            const delayMs = Math.min(30_000, failure ? failure.delayMs * 2 : 1_000);
            failure = { error, until: Date.now() + delayMs, delayMs };
            throw error;
          },
        )
        .finally(() => {
          running = undefined;
        });
      return running;
    },
    invalidate() {
      cached = undefined;
    },
  };
}

/** `name-data` (base64) or the file `name` (relative to the kubeconfig), as text. */
function pem(obj: Obj, name: string, dir: string): string | undefined {
  const data = str(obj[`${name}-data`]);
  if (data) return Buffer.from(data, 'base64').toString('utf8');
  const file = str(obj[name]);
  return file ? readFileSync(path.resolve(dir, file), 'utf8') : undefined;
}

function list<T>(value: unknown): T[] {
  return Array.isArray(value) ? (value.filter((v) => v && typeof v === 'object') as T[]) : [];
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value ? value : undefined;
}
