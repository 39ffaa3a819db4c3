// The Node server's Kubernetes client: the calls of rest.ts (URL, error shape, 429 retry, watch
// events) carried by node:http(s) with a keep-alive agent that trusts the configured CA and
// presents the configured client certificate, and a bearer token when there is one. Its calls are
// bounded (`timeoutMs`); so is the wait for a watch's headers, and its stream is bounded by the
// server (`timeoutSeconds`) and the reflector's hang guard. What the edge worker does over fetch
// (adapters/edge/kubernetes.ts), with the same KubernetesClient methods.
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { KubernetesClient } from './rest.ts';
import type { ClusterConfig, Credentials } from './config.ts';
import { apiError, apiUrl, parseJson, retryTooManyRequests, watchLines, type Method } from './rest.ts';

export const MERGE_PATCH = 'application/merge-patch+json';

export interface WatchHandle {
  abort(): void;
}

export interface NodeKubernetesClient extends KubernetesClient {
  get(path: string, query?: Record<string, string | undefined>): Promise<unknown>;
  /** A merge patch (RFC 7386) of `path`, e.g. an AccessRequest's status. */
  patch(path: string, body: unknown): Promise<unknown>;
  /**
   * Watches `path` from `query.resourceVersion` (watch=true is added). Resolves once the answer's
   * headers are in, or once it failed; `done` is then called exactly once: with nothing when the
   * server ended the stream, with the error otherwise (an ERROR event is an event, not an end),
   * and never after `abort()`.
   */
  watch(
    path: string,
    query: Record<string, string | undefined>,
    onEvent: (type: string, object: unknown) => void,
    done: (error: unknown) => void,
  ): Promise<WatchHandle>;
}

export function nodeKubernetesClient(
  config: ClusterConfig,
  options: { timeoutMs?: number; userAgent?: string } = {},
): NodeKubernetesClient {
  const base = new URL(config.server);
  const secure = base.protocol === 'https:';
  if (!secure && base.protocol !== 'http:')
    throw new Error(`the API server URL ${config.server} is neither https nor http`);
  const timeoutMs = options.timeoutMs ?? 30_000;
  const userAgent = options.userAgent ?? 'kube-request-access';
  // One agent per client certificate (an exec plugin may hand out a new one).
  let agent: { key: string; agent: http.Agent } | undefined;
  const agentFor = (credentials: Credentials): http.Agent => {
    const key = `${credentials.cert ?? ''}\0${credentials.key ?? ''}`;
    if (agent?.key === key) return agent.agent;
    if (agent) retire(agent.agent);
    const made = secure
      ? new https.Agent({
          keepAlive: true,
          ...(config.ca ? { ca: config.ca } : {}),
          ...(credentials.cert ? { cert: credentials.cert, key: credentials.key } : {}),
          rejectUnauthorized: !config.insecureSkipTLSVerify,
          ...(config.tlsServerName ? { servername: config.tlsServerName } : {}),
        })
      : new http.Agent({ keepAlive: true });
    agent = { key, agent: made };
    return made;
  };

  async function open(
    method: Method,
    path: string,
    query: Record<string, string | undefined> | undefined,
    body: string | undefined,
    contentType: string | undefined,
    deadlineMs: number | undefined,
    /** The deadline covers only the wait for the answer's headers (a watch streams for minutes after). */
    untilHeaders = false,
  ): Promise<{ request: http.ClientRequest; response: http.IncomingMessage }> {
    const credentials = await config.credentials();
    // A bearer token over plain http is readable by anyone on the path: never send it.
    if (!secure && (credentials.token || credentials.cert))
      throw new Error(
        `Kubernetes API ${method} ${path}: refusing to send credentials to ${config.server} over plain http; use an https:// server`,
      );
    const url = apiUrl(base, path, query);
    const headers: Record<string, string> = { Accept: 'application/json', 'User-Agent': userAgent };
    if (credentials.token) headers.Authorization = `Bearer ${credentials.token}`;
    if (body !== undefined) {
      headers['Content-Type'] = contentType ?? 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(body));
    }
    return new Promise((resolve, reject) => {
      const request = (secure ? https : http).request(url, { method, headers, agent: agentFor(credentials) });
      let timer: NodeJS.Timeout | undefined;
      if (deadlineMs !== undefined) {
        timer = setTimeout(() => request.destroy(new Error(`no answer within ${deadlineMs}ms`)), deadlineMs);
        timer.unref();
      }
      request.once('response', (response) => {
        if (untilHeaders && timer) clearTimeout(timer);
        if (response.statusCode === 401) config.invalidate?.();
        resolve({ request, response });
      });
      request.once('error', (error) => {
        if (timer) clearTimeout(timer);
        reject(new Error(`Kubernetes API ${method} ${path}: ${error.message}`, { cause: error }));
      });
      request.once('close', () => timer && clearTimeout(timer));
      request.end(body);
    });
  }

  function readAll(response: http.IncomingMessage): Promise<string> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      response.once('error', reject);
      response.once('aborted', () => reject(new Error('the answer was cut off')));
    });
  }

  async function callOnce(
    method: Method,
    path: string,
    query?: Record<string, string | undefined>,
    body?: unknown,
    contentType?: string,
  ): Promise<unknown> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const { response } = await open(method, path, query, payload, contentType, timeoutMs);
    let text: string;
    try {
      text = await readAll(response);
    } catch (error) {
      throw new Error(`Kubernetes API ${method} ${path}: ${(error as Error).message}`, { cause: error });
    }
    const status = response.statusCode ?? 0;
    if (status < 200 || status >= 300) throw apiError(method, path, status, text, header(response, 'retry-after'));
    return parseJson(text);
  }

  const call = (
    method: Method,
    path: string,
    query?: Record<string, string | undefined>,
    body?: unknown,
    contentType?: string,
  ) => retryTooManyRequests(() => callOnce(method, path, query, body, contentType));

  return {
    get: (path, query) => call('GET', path, query),
    delete: (path, body) => call('DELETE', path, undefined, body),
    post: (path, body) => call('POST', path, undefined, body),
    put: (path, body) => call('PUT', path, undefined, body),
    patch: (path, body) => call('PATCH', path, undefined, body, MERGE_PATCH),
    async watch(path, query, onEvent, done) {
      let finished = false;
      let aborted = false;
      const finish = (error: unknown) => {
        if (finished || aborted) return;
        finished = true;
        done(error);
      };
      let request: http.ClientRequest | undefined;
      const handle: WatchHandle = {
        abort() {
          aborted = true;
          request?.destroy();
        },
      };
      try {
        // A watch that never answers is cut like any call; once open, the reflector's hang guard watches it.
        const opened = await open('GET', path, { ...query, watch: 'true' }, undefined, undefined, timeoutMs, true);
        request = opened.request;
        const { response } = opened;
        if (aborted) {
          request.destroy();
          return handle;
        }
        const status = response.statusCode ?? 0;
        if (status !== 200) {
          const text = await readAll(response).catch(() => '');
          finish(apiError('GET', path, status, text, header(response, 'retry-after')));
          return handle;
        }
        response.setEncoding('utf8');
        const lines = watchLines((event) => onEvent(event.type, event.object));
        response.on('data', (chunk: string) => {
          if (finished || aborted) return;
          try {
            lines.push(chunk);
          } catch (error) {
            finish(error);
            request?.destroy();
          }
        });
        response.once('end', () => {
          try {
            lines.end();
            finish(undefined);
          } catch (error) {
            finish(error);
          }
        });
        response.once('aborted', () => finish(new Error('the watch was cut off')));
        response.once('error', (error) => finish(error));
        request.once('error', (error) => finish(error));
        request.once('close', () => finish(new Error('the watch connection closed')));
      } catch (error) {
        finish(error);
      }
      return handle;
    },
  };
}

/**
 * An agent whose client certificate was replaced: its idle connections close now, its busy ones
 * (a watch, a write under way) once their answer is in, so a rotation cuts no call short.
 */
function retire(old: http.Agent): void {
  for (const sockets of Object.values(old.freeSockets)) for (const socket of sockets ?? []) socket.destroy();
  old.on('free', (socket: Socket) => socket.destroy());
}

function header(response: http.IncomingMessage, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
