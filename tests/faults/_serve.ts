// Shared by the fault tests that run the real `serve` in memory mode on 127.0.0.1: a granted
// time-bound request (every review of it is an allowed exec with an audit line), the exec review
// for it, and the server process itself.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const root = new URL('../..', import.meta.url).pathname;

/** A granted time-bound request for alice's `ls` in team-a/web; `oneShot` makes it a single use. */
export function grantedObjects(now = Date.now(), options: { oneShot?: boolean } = {}): object[] {
  return [
    {
      apiVersion: 'kube-request-access.io/v1',
      kind: 'AccessRequest',
      metadata: {
        name: 'alice-web',
        namespace: 'team-a',
        uid: 'uid-alice-web',
        resourceVersion: '1',
        creationTimestamp: new Date(now - 60_000).toISOString(),
      },
      spec: {
        userInfo: { username: 'alice' },
        forObject: {
          resource: { group: '', version: 'v1', resource: 'pods' },
          subResource: 'exec',
          name: 'web',
          namespace: 'team-a',
        },
        ...(options.oneShot ? {} : { validFor: '1h' }),
        execOptions: { container: 'app', command: ['ls'] },
      },
    },
    {
      apiVersion: 'kube-request-access.io/v1',
      kind: 'AccessGrant',
      metadata: {
        name: 'alice-web',
        namespace: 'team-a',
        uid: 'uid-grant',
        resourceVersion: '2',
        creationTimestamp: new Date(now - 30_000).toISOString(),
      },
      spec: { grantFor: 'alice-web', grantForUID: 'uid-alice-web', grantedBy: { username: 'carol' } },
      status: 'granted',
    },
  ];
}

/** alice's exec of `ls` in team-a/web, as the kube-apiserver sends it. */
export function execReview(uid: string): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'PodExecOptions' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      subResource: 'exec',
      name: 'web',
      namespace: 'team-a',
      operation: 'CONNECT',
      userInfo: { username: 'alice', groups: ['developers'] },
      object: {
        kind: 'PodExecOptions',
        apiVersion: 'v1',
        stdout: true,
        stderr: true,
        container: 'app',
        command: ['ls'],
      },
      oldObject: null,
      dryRun: false,
    },
  });
}

export interface ServeProcess {
  child: ChildProcess;
  url: string;
  log: () => string;
  exited: Promise<number | null>;
}

/** `serve --objects DIR/objects.json` with DIR/tls.crt and DIR/tls.key; resolves once it serves. */
export async function startMemoryServe(
  dir: string,
  extra: readonly string[] = [],
  stdout: StdioOptions = 'ignore',
): Promise<ServeProcess> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'adapters/node/main.ts',
      'serve',
      '--address',
      '127.0.0.1:0',
      '--cert-file',
      join(dir, 'tls.crt'),
      '--key-file',
      join(dir, 'tls.key'),
      '--objects',
      join(dir, 'objects.json'),
      ...extra,
    ],
    { cwd: root, stdio: ['ignore', stdout as 'ignore' | 'pipe', 'pipe'] },
  );
  let log = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  for (let i = 0; i < 300 && !/"msg":"serving"/.test(log); i++) await sleep(50);
  const url = /"msg":"serving","url":"([^"]+)"/.exec(log)?.[1];
  if (!url) {
    child.kill('SIGKILL');
    throw new Error(`serve did not start:\n${log}`);
  }
  return { child, url, log: () => log, exited };
}
