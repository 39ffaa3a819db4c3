// Shared by the example audit and validator webhooks: serving a Hono app over HTTPS.
// Serves a Hono app over HTTPS with @hono/node-server. The certificate files are re-read when they
// change (cert-manager rotates them in place), so rotation needs no restart.
import { createAdaptorServer } from '@hono/node-server';
import { readFileSync, statSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Hono } from 'hono';

export interface ServeOptions {
  app: Hono;
  host: string;
  port: number;
  certFile: string;
  keyFile: string;
  onReloadError?: (error: unknown) => void;
}

export interface Running {
  url: string;
  port: number;
  close(): Promise<void>;
}

function readPem(file: string, flag: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new Error(
      `cannot read ${flag} ${file}: ${(error as { code?: string }).code === 'ENOENT' ? 'no such file' : (error as Error).message}`,
    );
  }
}

const stamp = (files: string[]) =>
  files
    .map((file) => {
      try {
        const s = statSync(file);
        return `${s.ino}:${s.size}:${s.mtimeMs}`;
      } catch {
        return 'missing';
      }
    })
    .join('|');

export async function serveHttps(options: ServeOptions): Promise<Running> {
  const tlsOptions = () => ({
    cert: readPem(options.certFile, '--cert-file'),
    key: readPem(options.keyFile, '--key-file'),
    minVersion: 'TLSv1.2' as const,
  });
  const server = createAdaptorServer({
    fetch: options.app.fetch,
    createServer: https.createServer,
    serverOptions: tlsOptions(),
  }) as https.Server;

  const files = [options.certFile, options.keyFile];
  let seen = stamp(files);
  const reload = setInterval(() => {
    const now = stamp(files);
    if (now === seen) return;
    try {
      server.setSecureContext(tlsOptions());
      seen = now;
    } catch (error) {
      options.onReloadError?.(error);
    }
  }, 10_000);
  reload.unref();

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = options.host.includes(':')
    ? `[${options.host}]`
    : options.host === '0.0.0.0'
      ? 'localhost'
      : options.host;
  return {
    url: `https://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(reload);
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 2000).unref();
      }),
  };
}

/** "host:port", ":port" or "port". */
export function parseAddress(address: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*))?:?(\d+)$/.exec(address);
  const port = Number(match?.[3]);
  if (!match || port > 65535) throw new Error(`--address "${address}" is not host:port, e.g. 0.0.0.0:9443`);
  return { host: match[1] ?? (match[2] || '0.0.0.0'), port };
}
