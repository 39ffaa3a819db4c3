// Deno entry: `deno run --allow-net --allow-env --allow-read examples/edge/deno/main.ts` (or the
// bundle from `tsx examples/edge/build.ts`). Bindings are environment variables. The API server's
// CA is pinned with Deno.createHttpClient({caCerts}) from KUBERNETES_CA (PEM text) or
// KUBERNETES_CA_FILE; the audit/validation webhooks' CA likewise from WEBHOOK_CA(_FILE). It serves
// plain HTTP on HOST:PORT for a TLS proxy on the same host, or HTTPS itself when TLS_CERT_FILE and
// TLS_KEY_FILE are set. Cleanup runs every CLEANUP_INTERVAL (1m; 0 turns it off).
import { parseDuration } from '../../../functions/duration.ts';
import { createEdgeWorker, type EdgeEnv } from '../../../adapters/edge/index.ts';

interface DenoHttpClient {
  close(): void;
}
declare const Deno: {
  env: { toObject(): Record<string, string> };
  readTextFileSync(path: string): string;
  createHttpClient(options: { caCerts?: string[] }): DenoHttpClient;
  serve(
    options: {
      hostname: string;
      port: number;
      cert?: string;
      key?: string;
      onListen?: (addr: { hostname: string; port: number }) => void;
    },
    handler: (request: Request) => Response | Promise<Response>,
  ): { finished: Promise<void> };
};

const env: EdgeEnv = Deno.env.toObject();
for (const name of ['KUBERNETES_CA', 'WEBHOOK_CA']) {
  const file = env[`${name}_FILE`];
  if (typeof file === 'string' && file && !env[name]) env[name] = Deno.readTextFileSync(file);
}

/** fetch verifying peers with `ca` (added to Deno's root store), as certificate-authority-data does for client-go. */
function fetchTrusting(ca: string | undefined): typeof fetch {
  if (!ca) return fetch;
  const client = Deno.createHttpClient({ caCerts: [ca] });
  return (input, init) => fetch(input, { ...init, client } as RequestInit);
}

const worker = createEdgeWorker({
  kubernetesFetch: (settings) => fetchTrusting(settings.caBundle),
  webhookFetch: (settings) => fetchTrusting(settings.webhookCaBundle),
});

const certFile = env['TLS_CERT_FILE'];
const keyFile = env['TLS_KEY_FILE'];
const tls =
  typeof certFile === 'string' && certFile && typeof keyFile === 'string' && keyFile
    ? { cert: Deno.readTextFileSync(certFile), key: Deno.readTextFileSync(keyFile) }
    : {};

Deno.serve(
  {
    hostname: String(env['HOST'] ?? '127.0.0.1'),
    port: Number(env['PORT'] ?? 8080),
    ...tls,
    onListen: ({ hostname, port }) =>
      console.log(`listening on ${'cert' in tls ? 'https' : 'http'}://${hostname}:${port}`),
  },
  (request) => worker.fetch(request, env),
);

const intervalMs = parseDuration(String(env['CLEANUP_INTERVAL'] ?? '1m')) ?? 60_000;
if (intervalMs > 0) {
  setInterval(() => {
    worker.scheduled(undefined, env).catch((error: unknown) => console.error('cleanup failed', error));
  }, intervalMs);
}
