// The HTTPS server around the Hono app: TLS from files re-read when they change (certificate
// rotation without restart), graceful shutdown, and one-line errors for bad certificate files.
import { createAdaptorServer } from '@hono/node-server';
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
      const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
      throw new UsageError(`cannot read ${flag} ${file}: ${why}`);
    }
  };
  const cert = read(certFile, '--cert-file');
  const key = read(keyFile, '--key-file');
  try {
    tls.createSecureContext({ cert, key });
  } catch (error) {
    throw new UsageError(`--cert-file ${certFile} and --key-file ${keyFile} are not a usable certificate and key: ${(error as Error).message}`);
  }
  return { cert, key };
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
  /** Stops accepting, lets in-flight reviews finish (up to `graceMs`), then closes. */
  close(graceMs?: number): Promise<void>;
}

export async function startHttpsServer(options: {
  app: Hono;
  address: string;
  tls: TlsFiles;
  logger: Logger;
  /** How often the certificate files are checked for changes (default 10s). */
  reloadIntervalMs?: number;
  /** Offer HTTP/2 beside HTTP/1.1 (default true). */
  http2?: boolean;
}): Promise<RunningServer> {
  const { host, port } = parseAddress(options.address);
  const initial = readTls(options.tls);
  // HTTP/2 (the kube-apiserver negotiates it when offered: one multiplexed connection, cheaper per
  // review) and HTTP/1.1 for everything else (curl, probes, older clients).
  // Without it (--http2=false) each apiserver opens several HTTP/1.1 connections, which a Service
  // spreads over the replicas; with it, one multiplexed connection lands on one replica.
  const server = (options.http2 ?? true)
    ? (createAdaptorServer({
        fetch: options.app.fetch,
        createServer: http2.createSecureServer,
        serverOptions: { ...initial, minVersion: 'TLSv1.2', allowHTTP1: true },
      }) as http2.Http2SecureServer)
    : (createAdaptorServer({
        fetch: options.app.fetch,
        createServer: https.createServer,
        serverOptions: { ...initial, minVersion: 'TLSv1.2' },
      }) as unknown as http2.Http2SecureServer);
  // HTTP/1.1 connections accepted through allowHTTP1 read their keep-alive from the server object.
  Object.assign(server, { keepAliveTimeout: 65_000 });

  // Http2SecureServer has no closeIdleConnections/closeAllConnections: track what is open.
  const sessions = new Set<http2.ServerHttp2Session>();
  const h1Sockets = new Set<Socket>();
  server.on('session', (session: http2.ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  server.on('secureConnection', (socket: Socket & { alpnProtocol?: string | false }) => {
    if (socket.alpnProtocol === 'h2') return;
    h1Sockets.add(socket);
    socket.once('close', () => h1Sockets.delete(socket));
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

  let fingerprint = tlsFingerprint(options.tls);
  const reload = setInterval(() => {
    const now = tlsFingerprint(options.tls);
    if (now === fingerprint) return;
    try {
      server.setSecureContext({ ...readTls(options.tls), minVersion: 'TLSv1.2' });
      fingerprint = now;
      options.logger.info('reloaded serving certificate', { certFile: options.tls.certFile });
    } catch (error) {
      options.logger.error('serving certificate changed but cannot be loaded; keeping the old one', { error });
    }
  }, options.reloadIntervalMs ?? 10_000);
  reload.unref();

  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'EADDRINUSE' ? new UsageError(`--address ${options.address}: the port is already in use`) : error),
    );
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? 'localhost' : host;
  return {
    url: `https://${shownHost}:${bound}`,
    port: bound,
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
        // GOAWAY lets in-flight HTTP/2 streams finish; idle HTTP/1.1 keep-alive sockets end now,
        // busy ones once their response is written.
        closing = true;
        for (const session of sessions) session.close();
        for (const socket of h1Sockets) if (!busy.has(socket)) socket.end();
      });
    },
  };
}

function tlsFingerprint({ certFile, keyFile }: TlsFiles): string {
  try {
    return [certFile, keyFile].map((file) => {
      const s = statSync(file);
      return `${s.ino}:${s.size}:${s.mtimeMs}`;
    }).join('|');
  } catch {
    return 'unreadable';
  }
}
