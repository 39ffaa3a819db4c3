// The Hono app (adapters/http) as an edge worker: a `fetch` handler and a `scheduled` handler
// (cleanup), configured from the runtime's bindings. It wires nothing itself: the fetch-based
// cluster client, the fetch webhook transport and console output go to the composition root
// (adapters/compose.ts), as the Node server's backend and transports do. Each runtime's entry
// (examples/edge/) passes in what differs: how fetch trusts the API server's CA.
// Nothing on this path may import a Node built-in: `npm run test:edge` bundles it for a browser
// target and fails on any `node:` import.
import { fetchTransport } from '../audit/transport.ts';
import { composeReviewer } from '../compose.ts';
import { PublicError } from '../errors.ts';
import { createApp } from '../http/app.ts';
import { jsonLogger } from '../log.ts';
import type { Logger } from '../ports.ts';
import { cleanupOnce, fetchEffects, fetchLookup, kubernetesClient, whoAmI, type CleanupResult } from './kubernetes.ts';
import { EdgeConfigError, edgeSettings, type EdgeEnv, type EdgeSettings } from './settings.ts';

export interface EdgeRuntime {
  /**
   * The fetch for API server calls. Deno passes one bound to `Deno.createHttpClient({caCerts})`,
   * Bun one that adds `tls: {ca}`; workerd uses the global fetch and pins the CA in its config.
   */
  kubernetesFetch?: (settings: EdgeSettings) => typeof fetch;
  /**
   * The fetch for the audit and validation webhooks (default: the global fetch). Deno and Bun pin
   * `WEBHOOK_CA` here, as the Node server pins `--audit-webhook-ca-bundle`.
   */
  webhookFetch?: (settings: EdgeSettings) => typeof fetch;
  /** Where log and audit lines go (default: console.log, which every edge runtime collects). */
  write?: (line: string) => void;
  clock?: () => Date;
}

/** The minimal ExecutionContext shape used: workerd passes one, Deno and Bun entries may not. */
export interface EdgeContext {
  waitUntil?(promise: Promise<unknown>): void;
}

export interface EdgeWorker {
  fetch(request: Request, env: EdgeEnv, ctx?: EdgeContext): Promise<Response>;
  scheduled(
    controller: { scheduledTime?: number; cron?: string } | undefined,
    env: EdgeEnv,
    ctx?: EdgeContext,
  ): Promise<CleanupResult>;
}

interface Built {
  settings: EdgeSettings;
  logger: Logger;
  fetch: (request: Request) => Response | Promise<Response>;
  cleanup: () => Promise<CleanupResult>;
}

/** Compares without an early exit, so the time taken says nothing about where a guess went wrong. */
function sameSecret(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < Math.max(a.length, b.length); i++) diff |= (a.charCodeAt(i) || 0) ^ (b.charCodeAt(i) || 0);
  return diff === 0;
}

export function createEdgeWorker(runtime: EdgeRuntime = {}): EdgeWorker {
  const write = runtime.write ?? ((line: string) => console.log(line.trimEnd()));
  const clock = runtime.clock ?? (() => new Date());
  // One app per bindings object: workerd hands the same `env` to every request of an isolate.
  const built = new WeakMap<object, Built>();

  function build(env: EdgeEnv): Built {
    const cached = built.get(env);
    if (cached) return cached;
    const settings = edgeSettings(env);
    const logger = jsonLogger({ level: settings.logLevel, write, clock });
    const apiFetch = runtime.kubernetesFetch?.(settings) ?? ((input, init) => fetch(input, init));
    const client = kubernetesClient({
      server: settings.apiServer,
      token: settings.token,
      fetch: apiFetch,
      timeoutMs: settings.kubernetesTimeoutMs,
    });
    const cluster = fetchLookup({ client, fieldSelectors: settings.fieldSelectors, logger });
    const webhookFetch = runtime.webhookFetch?.(settings) ?? ((input, init) => fetch(input, init));
    const transport = fetchTransport(webhookFetch, { timeoutMs: settings.webhookTimeoutMs });
    // The worker's own writes (marking one-shots used, cleanup) come back to it as reviews: it has to
    // know its identity. Asked once per isolate; until the API server answers nothing is reviewed.
    let app: Promise<ReturnType<typeof createApp>> | undefined;
    const appFor = () =>
      (app ??= composeReviewer({
        cluster,
        effects: fetchEffects({ client, logger, clock }),
        whoAmI: () =>
          whoAmI(client).catch((error: unknown) => {
            throw new PublicError(
              'kube-request-access could not ask the API server who it is (SelfSubjectReview); nothing is reviewed until it can',
              { cause: error },
            );
          }),
        settings: settings.config,
        ...(settings.auditWebhookUrl ? { auditWebhook: { url: settings.auditWebhookUrl, transport } } : {}),
        ...(settings.validationWebhookUrl
          ? { validationWebhook: { url: settings.validationWebhookUrl, transport } }
          : {}),
        auditLog: write,
        clock,
        logger,
      }).then(createApp, (error: unknown) => {
        app = undefined;
        throw error;
      }));
    const result: Built = {
      settings,
      logger,
      fetch: async (request) => {
        try {
          return (await appFor()).fetch(request);
        } catch (error) {
          logger.error('start-up', { error });
          return new Response(`${(error as Error).message}\n`, { status: 503 });
        }
      },
      cleanup: () =>
        cleanupOnce({
          client,
          namespaces: settings.namespaces,
          now: clock(),
          deleteAfterMs: settings.deleteAfterMs,
          usernamePrefix: settings.config.usernamePrefix,
          logger,
        }),
    };
    built.set(env, result);
    return result;
  }

  return {
    async fetch(request, env) {
      let worker: Built;
      try {
        worker = build(env);
      } catch (error) {
        if (!(error instanceof EdgeConfigError)) throw error;
        write(
          `${JSON.stringify({ time: clock().toISOString(), level: 'error', msg: 'configuration', error: error.message })}\n`,
        );
        // The apiserver turns this into a denial (failurePolicy: Fail): misconfigured means closed.
        return new Response(`kube-request-access edge worker is misconfigured: ${error.message}\n`, { status: 500 });
      }
      const { admissionToken } = worker.settings;
      if (admissionToken && new URL(request.url).pathname !== '/healthz') {
        const header = request.headers.get('authorization') ?? '';
        const given = header.toLowerCase().startsWith('bearer ') ? header.slice(7).trim() : '';
        if (!sameSecret(given, admissionToken)) {
          return new Response(
            'missing or wrong bearer token: configure the apiserver AdmissionConfiguration kubeConfigFile for this webhook\n',
            {
              status: 401,
              headers: { 'WWW-Authenticate': 'Bearer' },
            },
          );
        }
      }
      return worker.fetch(request);
    },
    async scheduled(_controller, env, ctx) {
      const worker = build(env);
      const run = worker.cleanup().then((result) => {
        worker.logger.info('cleanup pass', {
          deleted: result.deleted.length,
          failed: result.failed,
          nextDueAt: result.nextDueAt?.toISOString(),
        });
        return result;
      });
      ctx?.waitUntil?.(run.catch(() => {}));
      return run;
    },
  };
}
