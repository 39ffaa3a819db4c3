// The webhook server process the benchmark measures (run pinned to one core by bench/run.ts).
//   informer: the production wiring, `startServe` from adapters/node/serve.ts with a kubeconfig:
//             informer-backed lookup, audit log on stdout, review log on stderr, HTTPS server.
//   list:     the same Hono app and HTTPS server, with the seed's list-per-review lookup instead.
//   informer-h2: what `startServe` wires (Kubernetes backend, audit log, app), served by
//             http2.createSecureServer({ allowHTTP1: true }) instead of adapters/node/server.ts,
//             which speaks HTTP/1.1 only: the HTTP/2 figures the kube-apiserver would see.
// Start-up errors go to --error-file (stdout and stderr are /dev/null during the measurement).
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { logAuditSink } from '../adapters/audit/log.ts';
import { createApp } from '../adapters/http/app.ts';
import { jsonLogger } from '../adapters/log.ts';
import { configFrom, startServe, type ServeFlags } from '../adapters/node/serve.ts';
import { startHttpsServer, type RunningServer } from '../adapters/node/server.ts';
import { listPerReviewLookup } from './list-lookup.ts';

const { values } = parseArgs({
  options: {
    mode: { type: 'string', default: 'informer' },
    address: { type: 'string' },
    'cert-file': { type: 'string' },
    'key-file': { type: 'string' },
    kubeconfig: { type: 'string' },
    // for --mode list
    server: { type: 'string' },
    'ca-file': { type: 'string' },
    token: { type: 'string' },
    'error-file': { type: 'string' },
  },
});

const flags: ServeFlags = {
  address: values.address!,
  'cert-file': values['cert-file']!,
  'key-file': values['key-file']!,
  kubeconfig: values.kubeconfig!,
  'always-allowed-group-name': 'system:masters',
};

async function start(): Promise<RunningServer> {
  if (values.mode === 'informer') return startServe(flags);
  if (values.mode === 'informer-h2') return startH2();
  if (values.mode !== 'list') throw new Error(`--mode must be informer or list, not ${values.mode}`);
  const { readFileSync } = await import('node:fs');
  const cluster = listPerReviewLookup({ server: values.server!, caPem: readFileSync(values['ca-file']!, 'utf8'), token: values.token! });
  const logger = jsonLogger();
  const app = createApp({
    lookup: { ...cluster, validateAccessRequest: async () => ({ status: 'valid' }) },
    effects: { run: () => Promise.reject(new Error('the list-per-review benchmark consumes nothing')) },
    audit: [logAuditSink()],
    config: configFrom(flags),
    logger,
  });
  return startHttpsServer({ app, address: flags.address!, tls: { certFile: flags['cert-file']!, keyFile: flags['key-file']! }, logger });
}

/** The serve wiring (adapters/node/serve.ts) over node:http2 with HTTP/1.1 allowed. */
async function startH2(): Promise<RunningServer> {
  const { createAdaptorServer } = await import('@hono/node-server');
  const http2 = await import('node:http2');
  const { readFileSync } = await import('node:fs');
  const { startKubernetesBackend } = await import('../adapters/kubernetes/index.ts');
  const config = configFrom(flags);
  const logger = jsonLogger();
  const backend = await startKubernetesBackend({ kubeconfig: flags.kubeconfig!, usernamePrefix: '', cleanupIntervalMs: 60_000, deleteAfterMs: 86_400_000, logger });
  const app = createApp({
    lookup: { ...backend.lookup, validateAccessRequest: async () => ({ status: 'valid' }) },
    effects: backend.effects,
    audit: [logAuditSink()],
    config,
    logger,
    isReady: backend.isReady,
  });
  const server = createAdaptorServer({
    fetch: app.fetch,
    createServer: http2.createSecureServer,
    serverOptions: { cert: readFileSync(flags['cert-file']!), key: readFileSync(flags['key-file']!), minVersion: 'TLSv1.2', allowHTTP1: true },
  });
  const [host, port] = flags.address!.split(':');
  await new Promise<void>((resolve) => server.listen(Number(port), host, resolve));
  return {
    url: `https://${flags.address}`,
    port: Number(port),
    close: async () => {
      server.close();
      await backend.stop();
    },
  };
}

try {
  const running = await start();
  const stop = () => void running.close(2_000).then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
} catch (error) {
  if (values['error-file']) writeFileSync(values['error-file'], String((error as Error).stack ?? error));
  process.exit(1);
}
