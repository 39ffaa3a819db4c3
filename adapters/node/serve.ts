// `kube-request-access serve`: reads the flags, starts the cluster backend, hands it with the
// node:https webhook transports and stdout to the composition root (adapters/compose.ts), and
// serves the app over HTTPS until SIGTERM.
import { defineCommand } from 'citty';
import { readFileSync } from 'node:fs';
import * as v from 'valibot';
import { parseDuration } from '../../functions/duration.ts';
import { DEFAULT_CONFIG, DEFAULT_UNGATED_NAMESPACES, type Config, type Lookup } from '../../functions/types.ts';
import { httpsEndpoint, readCaBundle } from '../audit/https.ts';
import { composeReviewer, type WebhookEndpoint } from '../compose.ts';
import { createApp } from '../http/app.ts';
import { Metrics, type Gauge } from '../http/metrics.ts';
import { jsonLogger } from '../log.ts';
import { MemoryCluster } from '../memory/lookup.ts';
import type { EffectExecutor, Logger } from '../ports.ts';
import { readNodeBody } from './body.ts';
import { startHttpsServer, UsageError, type RunningServer } from './server.ts';

export const serveArgs = {
  address: {
    type: 'string',
    alias: 'a',
    default: 'localhost:8443',
    description: 'Address to listen on (host:port; 0.0.0.0:8443 in a pod)',
  },
  'cert-file': {
    type: 'string',
    alias: 'c',
    default: 'dev/localhost.crt',
    description: 'HTTPS certificate (PEM); re-read when it changes',
  },
  'key-file': { type: 'string', alias: 'k', default: 'dev/localhost.key', description: 'HTTPS private key (PEM)' },
  'client-ca-file': {
    type: 'string',
    description:
      "PEM CA certificate(s) that the kube-apiserver's client certificate must chain to (a leaf certificate is refused); reviews without one get 401 (probes and /metrics stay open); re-read when it changes",
  },
  kubeconfig: { type: 'string', description: 'kubeconfig file (default: $KUBECONFIG, else the pod service account)' },
  context: { type: 'string', description: 'kubeconfig context to use' },
  objects: {
    type: 'string',
    description:
      'Run without a cluster: a JSON file (array or List) of AccessRequests and AccessGrants, served from memory',
  },
  namespaces: { type: 'string', description: 'Comma-separated namespaces to watch (default: all)' },
  'granted-role-name': {
    type: 'string',
    description: 'Role bound to a user while their grant lasts (omit when developers hold standing exec rights)',
  },
  'granted-role-kind': {
    type: 'string',
    default: 'ClusterRole',
    description: 'Kind of --granted-role-name: ClusterRole or Role',
  },
  'always-allowed-group-name': {
    type: 'string',
    description: 'Comma-separated groups whose members exec without a request (audited as admin)',
  },
  'always-allowed-user-name': {
    type: 'string',
    description: 'Comma-separated users who exec without a request (audited as admin)',
  },
  'username-prefix': {
    type: 'string',
    default: '',
    description: 'Prefix the apiserver puts before user names (e.g. oidc:); requests may omit it',
  },
  'audit-webhook-url': {
    type: 'string',
    description: 'https URL of the audit webhook (receives audit-exec, audit-created, audit-granted)',
  },
  'audit-webhook-ca-bundle': {
    type: 'string',
    description:
      "PEM file with the CA that signs the audit webhook's certificate, or that certificate itself (pinned exactly, as the seed's bundle was; self-signed or CA-signed, still valid, naming the URL's host)",
  },
  'extended-validation-webhook-url': { type: 'string', description: 'https URL of the extended validation webhook' },
  'extended-validation-webhook-ca-bundle': {
    type: 'string',
    description:
      "PEM file with the CA that signs the validation webhook's certificate, or that certificate itself (pinned exactly, as the seed's bundle was; self-signed or CA-signed, still valid, naming the URL's host)",
  },
  'webhook-timeout': {
    type: 'string',
    default: '3s',
    description: 'Deadline for each audit or validation webhook call',
  },
  'cleanup-interval': {
    type: 'string',
    default: '1m',
    description: 'How often expired and stale AccessRequests are deleted',
  },
  'delete-after': {
    type: 'string',
    default: '24h',
    description: 'Unused one-shot AccessRequests older than this are deleted',
  },
  retention: {
    type: 'string',
    default: '24h',
    description:
      'Used, expired and denied AccessRequests are kept this long after they ended, as history (kubectl request list --all)',
  },
  'shutdown-delay': {
    type: 'string',
    default: '3s',
    description:
      'After SIGTERM: how long to keep serving, unready, while clients move to other replicas (open connections are told to go at once)',
  },
  'max-valid-for': { type: 'string', default: '12h', description: 'Longest validFor an AccessRequest may ask for' },
  'ungated-namespaces': {
    type: 'string',
    default: DEFAULT_UNGATED_NAMESPACES.join(','),
    description:
      'Comma-separated namespaces the exec webhook excludes (its namespaceSelector): requests there are refused, no RoleBinding is made there',
  },
  http2: {
    type: 'boolean',
    default: true,
    description:
      'Offer HTTP/2 (what the kube-apiserver prefers); --no-http2 serves HTTP/1.1 only, whose several connections a Service spreads over replicas',
  },
  v: { type: 'string', default: '0', description: 'Log verbosity: 0 info, 2 and up debug' },
} as const;

type StringFlag = Exclude<keyof typeof serveArgs, 'http2'>;
export type ServeFlags = { [K in StringFlag]?: string } & { http2?: boolean };

function duration(flags: ServeFlags, name: StringFlag): number {
  const text = flags[name] ?? (serveArgs[name] as { default?: string }).default ?? '';
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0)
    throw new UsageError(`--${name} "${text}" is not a positive duration (examples: 30s, 5m, 12h)`);
  return ms;
}

const list = (text: string | undefined) =>
  (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** Flags that take comma-separated lists: given twice, the values add up (as the seed's do). */
const LIST_FLAGS: ReadonlySet<string> = new Set([
  'always-allowed-group-name',
  'always-allowed-user-name',
  'namespaces',
  'ungated-namespaces',
]);

/**
 * The flags exactly as given, strictly: an unknown flag, a missing value, a stray argument or a
 * flag given twice is a one-line error, never silently ignored (a typo in --granted-role-name or
 * --always-allowed-group-name would change who may exec). List flags given twice add up.
 */
export function parseServeFlags(rawArgs: readonly string[]): ServeFlags {
  const names = new Map<string, keyof typeof serveArgs>();
  for (const [name, def] of Object.entries(serveArgs)) {
    names.set(name, name as keyof typeof serveArgs);
    const alias = (def as { alias?: string }).alias;
    if (alias) names.set(alias, name as keyof typeof serveArgs);
  }
  const flags: Record<string, string | boolean> = {};
  const known = [...names.keys()].filter((n) => n.length > 1);
  for (let i = 0; i < rawArgs.length; i++) {
    const arg = rawArgs[i]!;
    if (arg === '--help' || arg === '-h') continue;
    const match = /^(--?)([^=]+)(?:=(.*))?$/s.exec(arg);
    if (!match)
      throw new UsageError(
        `serve takes no arguments, got "${arg}"; flags start with -- (kube-request-access serve --help)`,
      );
    const [, dashes, given, inline] = match as unknown as [string, string, string, string | undefined];
    const negated =
      dashes === '--' &&
      given.startsWith('no-') &&
      serveArgs[given.slice(3) as keyof typeof serveArgs]?.type === 'boolean';
    const name = names.get(negated ? given.slice(3) : given);
    if (!name) {
      const near = closest(given, known);
      throw new UsageError(
        `unknown flag ${dashes}${given}${near ? `; did you mean --${near}?` : ''} (kube-request-access serve --help lists them)`,
      );
    }
    if (serveArgs[name].type === 'boolean') {
      flags[name] = negated ? false : inline === undefined ? true : !/^(false|0|no)$/i.test(inline);
      continue;
    }
    const value = inline ?? rawArgs[++i];
    if (value === undefined || (inline === undefined && /^--?[a-z]/i.test(value))) {
      throw new UsageError(`--${name} needs a value (kube-request-access serve --help)`);
    }
    if (flags[name] !== undefined) {
      if (!LIST_FLAGS.has(name))
        throw new UsageError(`--${name} is given twice ("${flags[name]}" and "${value}"); give it once`);
      flags[name] = `${flags[name]},${value}`;
    } else flags[name] = value;
  }
  return flags as ServeFlags;
}

/** The known name `given` starts, or the nearest (edit distance ≤ 2), for "did you mean". */
function closest(given: string, names: readonly string[]): string | undefined {
  const longer = names.filter((name) => name.startsWith(given));
  if (longer.length === 1) return longer[0];
  let best: { name: string; distance: number } | undefined;
  for (const name of names) {
    const distance = editDistance(given, name);
    if (distance <= 2 && (!best || distance < best.distance)) best = { name, distance };
  }
  return best?.name;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]!;
}

export function configFrom(flags: ServeFlags): Config {
  return {
    ...DEFAULT_CONFIG,
    alwaysAllowedGroups: list(flags['always-allowed-group-name']),
    alwaysAllowedUsers: list(flags['always-allowed-user-name']),
    usernamePrefix: flags['username-prefix'] ?? '',
    maxValidForMs: duration(flags, 'max-valid-for'),
    ungatedNamespaces:
      flags['ungated-namespaces'] === undefined ? DEFAULT_UNGATED_NAMESPACES : list(flags['ungated-namespaces']),
  };
}

/** The webhook of `--<url>` over node:https, its peer pinned to `--<ca>`; undefined without the flag. */
function webhookEndpoint(
  flags: ServeFlags,
  url: 'audit-webhook-url' | 'extended-validation-webhook-url',
  ca: 'audit-webhook-ca-bundle' | 'extended-validation-webhook-ca-bundle',
  owner: string,
): WebhookEndpoint | undefined {
  if (!flags[url]) return undefined;
  const file = flags[ca];
  if (!file) throw new UsageError(`--${url} needs --${ca} (the PEM CA that signs that webhook's certificate)`);
  let caBundle: string;
  try {
    caBundle = readCaBundle(file);
  } catch (error) {
    throw new UsageError(`--${ca}: ${(error as Error).message}`);
  }
  return httpsEndpoint({ url: flags[url]!, caBundle, timeoutMs: duration(flags, 'webhook-timeout') }, owner);
}

interface Backend {
  lookup: Lookup;
  effects: EffectExecutor;
  /** Who the server is to the API server (its service account): its own deletions are allowed. */
  selfUsername?: string;
  isReady(): boolean;
  /** Cluster gauges for /metrics (pending requests, cache lag); none in memory mode. */
  gauges?(): Gauge[];
  stop(): Promise<void>;
}

async function startBackend(flags: ServeFlags, config: Config, logger: Logger): Promise<Backend> {
  if (flags.objects) {
    const memory = new MemoryCluster(readObjects(flags.objects));
    return { lookup: memory, effects: memory, isReady: () => true, stop: async () => {} };
  }
  // Loaded lazily so `--help` and the memory mode never load the Kubernetes client.
  const { startKubernetesBackend } = await import('../kubernetes/index.ts');
  return startKubernetesBackend({
    ...(flags.kubeconfig ? { kubeconfig: flags.kubeconfig } : {}),
    ...(flags.context ? { context: flags.context } : {}),
    ...(flags.namespaces ? { namespaces: list(flags.namespaces) } : {}),
    ...(flags['granted-role-name'] ? { grantedRoleName: flags['granted-role-name'] } : {}),
    grantedRoleKind: flags['granted-role-kind'] === 'Role' ? 'Role' : 'ClusterRole',
    usernamePrefix: config.usernamePrefix,
    ungatedNamespaces: config.ungatedNamespaces,
    cleanupIntervalMs: duration(flags, 'cleanup-interval'),
    deleteAfterMs: duration(flags, 'delete-after'),
    retentionMs: duration(flags, 'retention'),
    logger,
    // Its cleanup deletions come back as DELETE reviews: the audit log records each (audit-deleted).
  });
}

function readObjects(file: string): unknown[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read --objects ${file}: ${(error as Error).message}`);
  }
  try {
    const data = JSON.parse(text) as unknown;
    return Array.isArray(data) ? data : v.parse(v.object({ items: v.array(v.unknown()) }), data).items;
  } catch {
    throw new UsageError(
      `--objects ${file} must be JSON: an array of AccessRequests and AccessGrants, or a List with items`,
    );
  }
}

export async function startServe(
  flags: ServeFlags,
  logger: Logger = jsonLogger({ level: Number(flags.v ?? 0) >= 2 ? 'debug' : 'info' }),
): Promise<RunningServer & { stopped: Promise<void>; shutdown(): Promise<void> }> {
  const settings = configFrom(flags); // bad flags fail before anything starts
  const shutdownDelayMs = duration(flags, 'shutdown-delay');
  const tls = {
    certFile: flags['cert-file'] ?? 'dev/localhost.crt',
    keyFile: flags['key-file'] ?? 'dev/localhost.key',
  };
  // The diagnostic log on stderr may lose lines when its reader goes; that must not kill the server.
  process.stderr.on('error', () => {});
  const auditWebhook = webhookEndpoint(flags, 'audit-webhook-url', 'audit-webhook-ca-bundle', 'audit webhook');
  const validationWebhook = webhookEndpoint(
    flags,
    'extended-validation-webhook-url',
    'extended-validation-webhook-ca-bundle',
    'extended-validation webhook',
  );

  const backend = await startBackend(flags, settings, logger);
  const reviewer = await composeReviewer({
    cluster: backend.lookup,
    effects: backend.effects,
    whoAmI: async () => backend.selfUsername,
    settings,
    ...(auditWebhook ? { auditWebhook } : {}),
    ...(validationWebhook ? { validationWebhook } : {}),
    // stdout is the audit log: backpressure and failures of its reader refuse reviews, never crash.
    auditLog: process.stdout,
    logger,
  });
  let shuttingDown = false;
  const app = createApp({
    ...reviewer,
    readBody: readNodeBody,
    isReady: () => (shuttingDown ? 'shutting down' : backend.isReady()),
    metrics: new Metrics(() => backend.gauges?.() ?? []),
  });
  let server: RunningServer;
  try {
    server = await startHttpsServer({
      app,
      address: flags.address ?? 'localhost:8443',
      tls,
      logger,
      http2: flags.http2 !== false,
      ...(flags['client-ca-file'] ? { clientCaFile: flags['client-ca-file'] } : {}),
    });
  } catch (error) {
    await backend.stop();
    throw error;
  }
  logger.info('serving', {
    url: server.url,
    mode: flags.objects ? 'memory' : 'kubernetes',
    auditWebhook: Boolean(auditWebhook),
    validator: Boolean(validationWebhook),
    clientCertificates: Boolean(flags['client-ca-file']),
  });

  let resolveStopped!: () => void;
  const stopped = new Promise<void>((resolve) => (resolveStopped = resolve));
  const close = async (graceMs?: number) => {
    shuttingDown = true;
    await server.close(graceMs);
    await backend.stop();
    resolveStopped();
  };
  return {
    ...server,
    stopped,
    close,
    /** SIGTERM: unready and draining for --shutdown-delay, then closed. */
    async shutdown() {
      shuttingDown = true;
      server.drain();
      await new Promise((resolve) => setTimeout(resolve, shutdownDelayMs));
      await close();
    },
  };
}

export default defineCommand({
  meta: {
    name: 'serve',
    description: 'Run the validating admission webhook over HTTPS',
  },
  args: serveArgs,
  async run({ args: parsed, rawArgs }) {
    let args: ServeFlags = parsed as ServeFlags;
    const logger = jsonLogger({ level: Number(args.v ?? 0) >= 2 ? 'debug' : 'info' });
    let running: Awaited<ReturnType<typeof startServe>>;
    try {
      args = parseServeFlags(rawArgs);
      running = await startServe(args, logger);
    } catch (error) {
      // Start-up problems (bad flags, unreadable files, no cluster) are one line saying what to fix.
      const verbose = Number(args.v ?? 0) >= 2;
      process.stderr.write(
        `kube-request-access: ${verbose ? ((error as Error).stack ?? error) : (error as Error).message}\n`,
      );
      process.exit(1);
    }
    const shutdown = (signal: string) => {
      logger.info('shutting down', { signal, drainMs: duration(args as ServeFlags, 'shutdown-delay') });
      void running.shutdown().then(() => process.exit(0));
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
    await running.stopped;
  },
});
