// Bun entry: `bun run examples/edge/bun/main.ts` (or the bundle from `tsx examples/edge/build.ts`).
// Bindings are environment variables. The API server's CA is pinned per request with Bun's
// `fetch(url, {tls: {ca}})` from KUBERNETES_CA (PEM text) or KUBERNETES_CA_FILE; the
// audit/validation webhooks' CA likewise from WEBHOOK_CA(_FILE). It serves plain HTTP on HOST:PORT
// for a TLS proxy on the same host, or HTTPS itself when TLS_CERT_FILE and TLS_KEY_FILE are set.
// Cleanup runs every CLEANUP_INTERVAL (1m; 0 turns it off).
import { parseDuration } from '../../../functions/duration.ts';
import { createEdgeWorker, type EdgeEnv } from '../../../adapters/edge/index.ts';

interface BunFile {
  text(): Promise<string>;
}
declare const Bun: {
  env: Record<string, string | undefined>;
  file(path: string): BunFile;
  serve(options: {
    hostname: string;
    port: number;
    tls?: { cert: BunFile; key: BunFile };
    fetch: (request: Request) => Response | Promise<Response>;
  }): { hostname: string; port: number; url: URL };
};

const env: EdgeEnv = { ...Bun.env };
for (const name of ['KUBERNETES_CA', 'WEBHOOK_CA']) {
  const file = env[`${name}_FILE`];
  if (typeof file === 'string' && file && !env[name]) env[name] = await Bun.file(file).text();
}

/** fetch verifying peers with `ca`, as certificate-authority-data does for client-go. */
function fetchTrusting(ca: string | undefined): typeof fetch {
  if (!ca) return fetch;
  const tls = { ca, rejectUnauthorized: true };
  return ((input: RequestInfo | URL, init?: RequestInit) =>
    fetch(input, { ...init, tls } as RequestInit)) as typeof fetch;
}

const worker = createEdgeWorker({
  kubernetesFetch: (settings) => fetchTrusting(settings.caBundle),
  webhookFetch: (settings) => fetchTrusting(settings.webhookCaBundle),
});

const certFile = env['TLS_CERT_FILE'];
const keyFile = env['TLS_KEY_FILE'];
const server = Bun.serve({
  hostname: String(env['HOST'] ?? '127.0.0.1'),
  port: Number(env['PORT'] ?? 8080),
  ...(typeof certFile === 'string' && certFile && typeof keyFile === 'string' && keyFile
    ? { tls: { cert: Bun.file(certFile), key: Bun.file(keyFile) } }
    : {}),
  fetch: (request) => worker.fetch(request, env),
});
console.log(`listening on ${server.url.origin}`);

const intervalMs = parseDuration(String(env['CLEANUP_INTERVAL'] ?? '1m')) ?? 60_000;
if (intervalMs > 0) {
  setInterval(() => {
    worker.scheduled(undefined, env).catch((error: unknown) => console.error('cleanup failed', error));
  }, intervalMs);
}
