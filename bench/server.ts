// The webhook server processes the benchmark measures (each pinned to one core by bench/run.ts).
//   informer       the production wiring: `startServe` from adapters/node/serve.ts with a kubeconfig
//                  (informer-backed lookup, audit log on stdout, review log on stderr, HTTPS server).
//   informer-h1    the same with --no-http2 (HTTP/1.1 only): the end-to-end comparison of the two.
//   informer-nolog the same as informer without the audit log and the review log (decomposition only:
//                  production always audits).
//   hono-minimal   adapters/node/server.ts around a Hono app that only reads the body from Node's
//                  request (as production does), parses the AdmissionReview with valibot and answers
//                  a fixed verdict: the framework's share (decomposition).
//   list           the Hono app and HTTPS server with the seed's list-per-review lookup.
// Start-up errors go to --error-file (stdout and stderr are /dev/null during the measurement).
import { Hono } from 'hono';
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as v from 'valibot';
import { logAuditSink } from '../adapters/audit/log.ts';
import { createApp } from '../adapters/http/app.ts';
import { jsonLogger, silentLogger } from '../adapters/log.ts';
import { readNodeBody } from '../adapters/node/body.ts';
import { configFrom, startServe, type ServeFlags } from '../adapters/node/serve.ts';
import { startHttpsServer, type RunningServer } from '../adapters/node/server.ts';
import { AdmissionReview } from '../functions/schemas.ts';
import type { Lookup } from '../functions/types.ts';
import type { EffectExecutor } from '../adapters/ports.ts';
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
const tls = { certFile: flags['cert-file']!, keyFile: flags['key-file']! };

interface Backend {
  lookup: Lookup;
  effects: EffectExecutor;
  isReady(): boolean;
  stop(): Promise<void>;
}

async function kubernetesBackend(logger: ReturnType<typeof jsonLogger>): Promise<Backend> {
  const { startKubernetesBackend } = await import('../adapters/kubernetes/index.ts');
  // The defaults of `serve` (adapters/node/serve.ts): cleanup every minute, one-shots kept 24h.
  return startKubernetesBackend({
    kubeconfig: flags.kubeconfig!,
    usernamePrefix: '',
    cleanupIntervalMs: 60_000,
    deleteAfterMs: 86_400_000,
    logger,
  });
}

function listBackend(): Backend {
  const lookup = listPerReviewLookup({
    server: values.server!,
    caPem: readFileSync(values['ca-file']!, 'utf8'),
    token: values.token!,
  });
  return {
    lookup,
    effects: { run: () => Promise.reject(new Error('the list-per-review benchmark consumes nothing')) },
    isReady: () => true,
    stop: async () => lookup.close(),
  };
}

function appOn(backend: Backend, logs: boolean): Hono {
  const logger = logs ? jsonLogger() : silentLogger;
  return createApp({
    lookup: backend.lookup,
    effects: backend.effects,
    audit: [],
    ...(logs ? { auditLog: logAuditSink() } : {}),
    readBody: readNodeBody,
    config: configFrom(flags),
    logger,
    isReady: backend.isReady,
  });
}

async function https1(app: Hono, backend?: Backend): Promise<RunningServer> {
  const running = await startHttpsServer({ app, address: flags.address!, tls, logger: silentLogger });
  return { ...running, close: async (grace) => (await running.close(grace), await backend?.stop()) };
}

function honoMinimal(): Hono {
  const app = new Hono();
  app.get('/readyz', (c) => c.text('ok'));
  app.post('/', async (c) => {
    // The body straight from Node's request, as production reads it (adapters/node/body.ts):
    // c.req.text() would build a WHATWG Request, about half the CPU of a review.
    const text = await readNodeBody(c)?.text(3 * 1024 * 1024);
    if (text === undefined) return c.text('too large', 413);
    const parsed = v.safeParse(AdmissionReview, JSON.parse(text));
    if (!parsed.success) return c.text('malformed', 400);
    return c.json({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: parsed.output.request.uid, allowed: true },
    });
  });
  return app;
}

async function start(): Promise<RunningServer> {
  switch (values.mode) {
    case 'informer':
      return startServe(flags);
    case 'informer-h1':
      return startServe({ ...flags, http2: false });
    case 'informer-nolog': {
      const backend = await kubernetesBackend(jsonLogger());
      return https1(appOn(backend, false), backend);
    }
    case 'hono-minimal':
      return https1(honoMinimal());
    case 'list': {
      const backend = listBackend();
      return https1(appOn(backend, true), backend);
    }
    default:
      throw new Error(`--mode must be informer, informer-h1, informer-nolog, hono-minimal or list, not ${values.mode}`);
  }
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
