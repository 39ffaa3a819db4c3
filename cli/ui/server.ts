// `kubectl request ui`: watch what the user can see, serve the page on 127.0.0.1 with a random
// token, open it in a browser when there is one, stop on Ctrl-C.
import { createAdaptorServer } from '@hono/node-server';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ConnectionOptions } from '../lib/cluster.ts';
import { CliError, ExitCode, explainError } from '../lib/errors.ts';
import type { Runtime } from '../lib/runtime.ts';
import { uiApp } from './app.ts';

export interface UiCommandOptions {
  connection: ConnectionOptions;
  port: number;
  open: boolean;
}

/** The command that opens a URL on this desktop, or undefined when there is none to open it in. */
export function browserCommand(platform = process.platform, env = process.env): string[] | undefined {
  if (env.BROWSER) return [env.BROWSER];
  if (platform === 'darwin') return ['open'];
  if (platform === 'win32') return ['cmd', '/c', 'start', ''];
  return env.DISPLAY || env.WAYLAND_DISPLAY ? ['xdg-open'] : undefined;
}

function openBrowser(url: string): boolean {
  const command = browserCommand();
  if (!command) return false;
  try {
    const child = spawn(command[0]!, [...command.slice(1), url], { stdio: 'ignore', detached: true });
    child.on('error', () => {});
    child.unref();
    return true;
  } catch {
    return false;
  }
}

export async function serveUi(rt: Runtime, options: UiCommandOptions): Promise<number> {
  const cluster = await rt.connect(options.connection);
  const me = (await cluster.whoAmI().catch((error: unknown) => {
    throw explainError(error, { action: 'ask the cluster who you are', server: cluster.server });
  })).username;
  const { watchSource } = await import('./kube-source.ts');
  const source = await watchSource(options.connection, (line) => rt.io.stderr(line)).catch((error: unknown) => {
    throw explainError(error, { action: 'watch access requests', server: cluster.server });
  });

  const token = randomBytes(24).toString('base64url');
  let origins: string[] = [];
  const app = uiApp({ cluster, source, me, token, origins: () => origins, connection: options.connection });
  const server = createAdaptorServer({ fetch: app.fetch }) as Server;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) =>
      reject(new CliError(`cannot listen on 127.0.0.1:${options.port}: ${(error as Error).message}`, ExitCode.ERROR)),
    );
    server.listen(options.port, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  origins = [`http://127.0.0.1:${port}`, `http://localhost:${port}`];
  const url = `http://127.0.0.1:${port}/?token=${token}`;

  const opened = options.open && openBrowser(url);
  rt.io.stdout(`${opened ? 'Opened in your browser' : 'Open in your browser'}: ${url}`);
  rt.io.stderr(`Acting as ${me} on ${cluster.server}. Anyone with this URL acts as you: do not share it. Ctrl-C stops.`);

  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  server.close();
  server.closeAllConnections();
  await source.close();
  return ExitCode.OK;
}
