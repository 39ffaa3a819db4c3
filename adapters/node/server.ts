// The HTTPS server around the Hono app: TLS from files re-read when they change (certificate
// rotation without restart), the caller authenticated by client certificate, graceful shutdown,
// and one-line errors for bad certificate files.
import { createAdaptorServer, type Http2Bindings, type HttpBindings } from '@hono/node-server';
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import tls from 'node:tls';
import type { Hono } from 'hono';
import type { Logger } from '../ports.ts';

/** An error meant for the terminal: printed as one line, no stack trace. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

export function readTls({ certFile, keyFile }: TlsFiles): { cert: Buffer; key: Buffer } {
  const read = (file: string, flag: string) => {
    try {
      return readFileSync(file);
    } catch (error) {
      const code = (error as { code?: string }).code;
      const why =
        code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
      throw new UsageError(`cannot read ${flag} ${file}: ${why}`);
    }
  };
  const cert = read(certFile, '--cert-file');
  const key = read(keyFile, '--key-file');
  try {
    tls.createSecureContext({ cert, key });
  } catch (error) {
    throw new UsageError(
      `--cert-file ${certFile} and --key-file ${keyFile} are not a usable certificate and key: ${(error as Error).message}`,
    );
  }
  return { cert, key };
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Reads `--client-ca-file`: PEM CA certificates that a caller's client certificate must chain to. */
export function readClientCa(file: string): Buffer {
  let pem: Buffer;
  try {
    pem = readFileSync(file);
  } catch (error) {
    const code = (error as { code?: string }).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
    throw new UsageError(`cannot read --client-ca-file ${file}: ${why}`);
  }
  const blocks = pem.toString('utf8').match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) {
    throw new UsageError(
      `--client-ca-file ${file} contains no PEM certificate (-----BEGIN CERTIFICATE-----); give the CA that signs the kube-apiserver's webhook client certificate`,
    );
  }
  for (const block of blocks) {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(block);
    } catch (error) {
      throw new UsageError(
        `--client-ca-file ${file} holds a certificate that cannot be parsed: ${(error as Error).message}`,
      );
    }
    if (!cert.ca)
      throw new UsageError(
        `--client-ca-file ${file}: "${cert.subject.replace(/\n/g, ', ')}" is not a CA certificate; give the CA that signed the client certificate, not the certificate itself`,
      );
  }
  return pem;
}

/** Paths a kubelet probe or a metrics scraper reaches without a client certificate. */
const OPEN_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

export const UNAUTHENTICATED_MESSAGE =
  'a client certificate signed by the --client-ca-file CA is required: configure the kube-apiserver to present one (AdmissionConfiguration kubeConfigFile, see docs/deploy.md)\n';

type Fetch = (request: Request, env: HttpBindings | Http2Bindings) => unknown;

/**
 * Wraps the app's fetch: a request whose TLS connection presented no client certificate that
 * chains to the client CA gets 401 before the app sees it (nothing reviewed, consumed or audited),
 * except GET/HEAD of the probe and metrics paths. The TLS layer only records the verdict
 * (`requestCert`, `rejectUnauthorized: false`) so that probes without a certificate still connect.
 */
export function requireClientCertificate(fetch: Fetch, logger: Logger): Fetch {
  return (request, env) => {
    const incoming = env.incoming;
    // For HTTP/2, `incoming.socket` forwards property reads to the session's TLS socket.
    const socket = incoming.socket as tls.TLSSocket;
    if (socket.authorized === true) return fetch(request, env);
    const path = (incoming.url ?? '/').split('?', 1)[0]!;
    if ((incoming.method === 'GET' || incoming.method === 'HEAD') && OPEN_PATHS.has(path)) return fetch(request, env);
    logger.warn('refused a request without a valid client certificate', {
      method: incoming.method,
      path,
      remote: socket.remoteAddress,
      // Without a peer certificate OpenSSL still reports an issuer error: say what happened.
      reason:
        Object.keys(socket.getPeerCertificate?.() ?? {}).length === 0
          ? 'no client certificate'
          : String(socket.authorizationError),
    });
    return new Response(UNAUTHENTICATED_MESSAGE, {
      status: 401,
      headers: { 'Content-Type': 'text/plain; charset=utf-8' },
    });
  };
}

/**
 * What @hono/node-server's `autoCleanupIncoming` did for every request (listeners and closures per
 * request: 20-40 µs a review on HTTP/2, docs/benchmarks.md), done only for the rare answer that
 * leaves its body unread (413, 415, 401, 404): an HTTP/1.1 connection still receiving that body
 * is closed once the answer is out, rather than read to its end. (Node's HTTP/2 resets such a
 * stream with NO_ERROR itself after a complete answer: tests/http/server.test.ts.) A review reads
 * its whole body, so it pays one property read.
 */
export function discardingUnreadBodies(fetch: Fetch): Fetch {
  return async (request, env) => {
    const response = await fetch(request, env);
    const incoming = env.incoming as { complete?: boolean; readableEnded: boolean; socket?: Socket | null };
    if (!incoming.readableEnded && incoming.complete === false && !(env.incoming instanceof http2.Http2ServerRequest)) {
      env.outgoing.once('finish', () => {
        if (!incoming.complete) incoming.socket?.destroySoon();
      });
    }
    return response;
  };
}

/** "host:port", ":port", "[::1]:port" or "port". */
export function parseAddress(address: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*))?:?(\d+)$/.exec(address);
  const port = Number(match?.[3]);
  if (!match || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(`--address "${address}" is not host:port (for example 0.0.0.0:8443 or localhost:8443)`);
  }
  return { host: match[1] ?? (match[2] || '0.0.0.0'), port };
}

export interface RunningServer {
  url: string;
  port: number;
  /**
   * Keeps listening and serving, but moves clients to other replicas: HTTP/2 sessions get a
   * GOAWAY (in-flight streams finish), HTTP/1.1 connections close after their current response.
   */
  drain(): void;
  /** Stops accepting, lets in-flight reviews finish (up to `graceMs`), then closes. */
  close(graceMs?: number): Promise<void>;
}

/**
 * What one connection and one request may hold (docs/limits.md). An AdmissionReview arrives in one
 * write, so a body that takes seconds is an attack or a dead peer, not a slow apiserver.
 */
export interface ConnectionLimits {
  /**
   * HTTP/2 streams in flight per connection. The kube-apiserver's Go client opens another
   * connection when a server's limit is reached, so this caps what one connection can buffer
   * (streams × the 3 MiB body cap: 96 MiB) without throttling the apiserver (its benchmark load
   * keeps 8 streams in flight).
   */
  maxConcurrentStreams: number;
  /** From a request's headers to the end of its body; then the stream (HTTP/2) or socket is cut. */
  bodyTimeoutMs: number;
  /** From an HTTP/1.1 connection's handshake to its first request's complete headers. */
  headersTimeoutMs: number;
  /** Idle time before a keep-alive HTTP/1.1 socket or an HTTP/2 session is closed. */
  keepAliveTimeoutMs: number;
}

export const DEFAULT_LIMITS: ConnectionLimits = {
  maxConcurrentStreams: 32,
  bodyTimeoutMs: 5_000,
  headersTimeoutMs: 10_000,
  keepAliveTimeoutMs: 65_000,
};

export async function startHttpsServer(options: {
  app: Hono;
  address: string;
  tls: TlsFiles;
  logger: Logger;
  /** How often the certificate files are checked for changes (default 10s). */
  reloadIntervalMs?: number;
  /** Offer HTTP/2 beside HTTP/1.1 (default true). */
  http2?: boolean;
  /**
   * PEM CA file (`--client-ca-file`): reviews must come with a client certificate chaining to it
   * (the kube-apiserver's, see docs/deploy.md). Re-read when it changes, like the certificate.
   */
  clientCaFile?: string;
  limits?: Partial<ConnectionLimits>;
}): Promise<RunningServer> {
  const { host, port } = parseAddress(options.address);
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const clientCaFile = options.clientCaFile;
  // Everything that goes into the secure context, re-read together on change.
  const secureContext = () => ({
    ...readTls(options.tls),
    ...(clientCaFile ? { ca: readClientCa(clientCaFile) } : {}),
    minVersion: 'TLSv1.2' as const,
  });
  const initial = secureContext();
  // Ask for a certificate but let the handshake finish without one: probes carry none, and a
  // 401 with a reason beats a TLS alert. requireClientCertificate decides per request.
  const clientAuth = clientCaFile ? { requestCert: true, rejectUnauthorized: false } : {};
  const fetch = discardingUnreadBodies(
    clientCaFile ? requireClientCertificate(options.app.fetch, options.logger) : options.app.fetch,
  );
  if (!clientCaFile) {
    options.logger.warn(
      "reviews are not authenticated: anyone who reaches this port can send AdmissionReviews; set --client-ca-file to require the kube-apiserver's client certificate (docs/deploy.md)",
    );
  }
  // HTTP/2 (the kube-apiserver negotiates it when offered: one multiplexed connection, cheaper per
  // review) and HTTP/1.1 for everything else (curl, probes, older clients).
  // Without it (--http2=false) each apiserver opens several HTTP/1.1 connections, which a Service
  // spreads over the replicas; with it, one multiplexed connection lands on one replica.
  const server =
    (options.http2 ?? true)
      ? (createAdaptorServer({
          fetch,
          autoCleanupIncoming: false,
          createServer: http2.createSecureServer,
          serverOptions: {
            ...initial,
            ...clientAuth,
            allowHTTP1: true,
            settings: { maxConcurrentStreams: limits.maxConcurrentStreams },
          },
        }) as http2.Http2SecureServer)
      : (createAdaptorServer({
          fetch,
          autoCleanupIncoming: false,
          createServer: https.createServer,
          serverOptions: { ...initial, ...clientAuth },
        }) as unknown as http2.Http2SecureServer);
  // HTTP/1.1 connections accepted through allowHTTP1 read their keep-alive from the server object
  // (but not headersTimeout or requestTimeout: Node applies those to http.Server only, hence the
  // timers below, which serve both servers alike).
  Object.assign(server, { keepAliveTimeout: limits.keepAliveTimeoutMs });

  // Http2SecureServer has no closeIdleConnections/closeAllConnections: track what is open.
  const sessions = new Set<http2.ServerHttp2Session>();
  const h1Sockets = new Set<Socket>();
  server.on('session', (session: http2.ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    session.setTimeout(limits.keepAliveTimeoutMs, () => session.close());
  });
  // An HTTP/1.1 socket must deliver complete headers in time: after the handshake, and again after
  // each response (then within the keep-alive time). A 'request' event means headers are in.
  const headerDeadlines = new WeakMap<Socket, NodeJS.Timeout>();
  const awaitHeaders = (socket: Socket, ms: number) => {
    clearTimeout(headerDeadlines.get(socket));
    const timer = setTimeout(() => socket.destroy(), ms);
    timer.unref();
    headerDeadlines.set(socket, timer);
  };
  server.on('secureConnection', (socket: Socket & { alpnProtocol?: string | false }) => {
    if (socket.alpnProtocol === 'h2') return;
    h1Sockets.add(socket);
    awaitHeaders(socket, limits.headersTimeoutMs);
    socket.once('close', () => {
      h1Sockets.delete(socket);
      clearTimeout(headerDeadlines.get(socket));
    });
  });
  // Every request must finish sending its body in time (or be answered without it, like a 401):
  // an unfinished body is cut, so nothing buffers a partial body for longer than bodyTimeoutMs.
  server.on('request', (request: http2.Http2ServerRequest, response: http2.Http2ServerResponse) => {
    const h1 = request.httpVersionMajor === 1;
    if (h1) clearTimeout(headerDeadlines.get(request.socket as Socket));
    const deadline = setTimeout(() => {
      options.logger.warn('cut a request whose body did not arrive in time', {
        ms: limits.bodyTimeoutMs,
        method: request.method,
        http: request.httpVersion,
        remote: request.socket?.remoteAddress,
      });
      if (h1) request.socket.destroy();
      else request.stream.close(http2.constants.NGHTTP2_CANCEL);
    }, limits.bodyTimeoutMs);
    deadline.unref();
    const done = () => clearTimeout(deadline);
    request.once('end', done);
    request.once('close', done);
    response.once('finish', () => {
      // An HTTP/2 stream answered before its body ended (a 401, 413, 415) is usually reset by Node
      // once the answer is out, but not always: until its body ends or the stream closes, the
      // deadline stays armed and cuts it, rather than leaving it open until the session idles out.
      if (h1 || request.complete) done();
      if (h1 && !closing) awaitHeaders(request.socket as Socket, limits.keepAliveTimeoutMs + limits.headersTimeoutMs);
    });
  });
  // HTTP/1.1 sockets with a response under way: on shutdown they end once it is written.
  const busy = new Set<Socket>();
  let closing = false;
  server.on('request', (request: http2.Http2ServerRequest, response: http2.Http2ServerResponse) => {
    if (request.httpVersionMajor !== 1) return;
    const socket = request.socket as Socket;
    busy.add(socket);
    response.once('finish', () => {
      busy.delete(socket);
      if (closing) socket.end();
    });
  });

  // New connections get the new context; open ones keep the certificate check of their handshake.
  const watched = [options.tls.certFile, options.tls.keyFile, ...(clientCaFile ? [clientCaFile] : [])];
  let fingerprint = filesFingerprint(watched);
  const reload = setInterval(() => {
    const now = filesFingerprint(watched);
    if (now === fingerprint) return;
    try {
      server.setSecureContext(secureContext());
      fingerprint = now;
      options.logger.info('reloaded TLS files', {
        certFile: options.tls.certFile,
        ...(clientCaFile ? { clientCaFile } : {}),
      });
    } catch (error) {
      options.logger.error('TLS files changed but cannot be loaded; keeping the old ones', { error });
    }
  }, options.reloadIntervalMs ?? 10_000);
  reload.unref();

  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new UsageError(`--address ${options.address}: the port is already in use`)
          : error,
      ),
    );
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? 'localhost' : host;
  const drain = () => {
    // GOAWAY lets in-flight HTTP/2 streams finish; idle HTTP/1.1 keep-alive sockets end now,
    // busy ones once their response is written.
    closing = true;
    for (const session of sessions) session.close();
    for (const socket of h1Sockets) if (!busy.has(socket)) socket.end();
  };
  return {
    url: `https://${shownHost}:${bound}`,
    port: bound,
    drain,
    close(graceMs = 10_000) {
      clearInterval(reload);
      return new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          for (const session of sessions) session.destroy();
          for (const socket of h1Sockets) socket.destroy();
          resolve();
        }, graceMs);
        timer.unref();
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        drain();
      });
    },
  };
}

function filesFingerprint(files: readonly string[]): string {
  try {
    return files
      .map((file) => {
        const s = statSync(file);
        return `${s.ino}:${s.size}:${s.mtimeMs}`;
      })
      .join('|');
  } catch {
    return 'unreadable';
  }
}
