// The friends of exec end to end: real kubectl attach, port-forward, debug and cp against a real
// kube-apiserver whose webhook is our `serve` command. Developers hold standing RBAC for every
// friend here, so each refusal comes from the webhook. Requests are made with the plugin
// (bin/kubectl-request.mjs) and granted by carol with it. Pods have no node: an allowed CONNECT
// ends in 400 "does not have a host assigned", an allowed ephemeral container is stored.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT, startControlPlane, type ControlPlane, type KubectlResult, type User } from '../controlplane/cluster.ts';
import { exists, getJson, isUsed, outcome, pod, type Outcome } from './_kra.ts';

let cp: ControlPlane;
let dir: string;
const NS = 'team-a';

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kra-friends-'));
  cp = await startControlPlane({
    dir,
    developersCanExec: true,
    webhook: true,
    log: (line) => console.error(`# ${line}`),
  });
  await cp.apply([pod('web', NS), pod('db', NS)]);
  // No kubelet: kubectl port-forward insists on a running pod.
  for (const name of ['web', 'db']) {
    const patched = await cp.kubectl('admin', [
      'patch',
      'pod',
      name,
      '-n',
      NS,
      '--subresource=status',
      '--type=merge',
      '-p',
      '{"status":{"phase":"Running"}}',
    ]);
    assert.equal(patched.code, 0, patched.stderr);
  }
});

after(async () => {
  await cp?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** `kubectl request --context USER ARGS…` through the plugin binary. */
function plugin(user: User, args: readonly string[]): Promise<KubectlResult> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [path.join(ROOT, 'bin/kubectl-request.mjs'), '--kubeconfig', cp.kubeconfig, '--context', user, ...args],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, NO_COLOR: '1' },
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** alice asks with the plugin, carol grants with it; returns the request name. */
async function askAndGrant(args: readonly string[]): Promise<string> {
  const asked = await plugin('alice', [...args]);
  assert.equal(asked.code, 0, asked.stderr);
  const name = /accessrequest\/(\S+) created/.exec(asked.stdout)?.[1];
  assert.ok(name, asked.stdout);
  const granted = await plugin('carol', ['grant', name, '-n', NS, '--yes']);
  assert.equal(granted.code, 0, granted.stderr + granted.stdout);
  return name;
}

/** One kubectl run, classified; SPDY only (no WebSocket attempt and retry), as with a kubelet. */
async function kubectl(
  user: User,
  args: readonly string[],
  input?: string,
): Promise<{ outcome: Outcome; result: KubectlResult }> {
  const saved = { ...process.env };
  process.env.KUBECTL_REMOTE_COMMAND_WEBSOCKETS = 'false';
  process.env.KUBECTL_PORT_FORWARD_WEBSOCKETS = 'false';
  try {
    const result = await cp.kubectl(user, args, { timeoutMs: 30_000, ...(input !== undefined ? { input } : {}) });
    return { outcome: outcome(result.stderr + result.stdout), result };
  } finally {
    for (const key of ['KUBECTL_REMOTE_COMMAND_WEBSOCKETS', 'KUBECTL_PORT_FORWARD_WEBSOCKETS']) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
  }
}

/** A raw CONNECT as `user` (what SPDY kubectl sends), e.g. portforward?ports=8080. */
function connect(
  user: User,
  subresource: string,
  query: string,
): Promise<{ status: number; outcome: Outcome; body: string }> {
  const url = `${cp.server}/api/v1/namespaces/${NS}/pods/web/${subresource}?${query}`;
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      { method: 'POST', ca: cp.caPem, headers: { authorization: `Bearer ${cp.tokens[user]}` }, timeout: 20_000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, outcome: outcome(body) }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('probe timed out')));
    req.on('error', reject);
    req.end();
  });
}

interface AuditLine {
  log?: string;
  type?: string;
  verdict?: string;
  data?: {
    request: { subResource: string; userInfo: { username: string }; object: Record<string, unknown> };
    execOptions: Record<string, unknown>;
  };
}

/** audit-exec lines of the webhook's audit log for `subResource`. */
function audited(subResource: string): AuditLine[] {
  return readFileSync(cp.logs.webhook, 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('{') && line.includes('"log":"audit"'))
    .map((line) => JSON.parse(line) as AuditLine)
    .filter((line) => line.type === 'audit-exec' && line.data?.request.subResource === subResource);
}

describe('kubectl attach', () => {
  it('is denied without a grant, with the kubectl request attach to run', async () => {
    const { outcome: verdict, result } = await kubectl('alice', ['attach', '-n', NS, 'web', '-c', 'app']);
    assert.equal(verdict, 'denied', result.stderr);
    assert.match(result.stderr, /kubectl request attach -n team-a web -c app/);
  });

  it('is allowed once with a granted attach request; an exec is not', async () => {
    await askAndGrant(['attach', 'web', '-c', 'app', '-n', NS]);
    const exec = await kubectl('alice', ['exec', '-n', NS, 'web', '-c', 'app', '--', 'ls']);
    assert.equal(exec.outcome, 'denied', exec.result.stderr);
    const first = await kubectl('alice', ['attach', '-n', NS, 'web', '-c', 'app']);
    assert.equal(first.outcome, 'allowed', first.result.stderr);
    const replay = await kubectl('alice', ['attach', '-n', NS, 'web', '-c', 'app']);
    assert.equal(replay.outcome, 'denied', replay.result.stderr);
  });

  it('is never allowed with stdin', async () => {
    await askAndGrant(['attach', 'web', '-c', 'app', '-n', NS, '--valid-for', '10m']);
    const interactive = await kubectl('alice', ['attach', '-i', '-n', NS, 'web', '-c', 'app'], '');
    assert.equal(interactive.outcome, 'denied', interactive.result.stderr);
    assert.match(interactive.result.stderr, /interactive attach is not allowed/);
  });
});

describe('kubectl port-forward', () => {
  it('is denied without a grant', async () => {
    const { outcome: verdict, result } = await kubectl('alice', ['port-forward', '-n', NS, 'pod/web', '18080:8080']);
    assert.equal(verdict, 'denied', result.stderr);
    assert.match(result.stderr, /kubectl request port-forward/);
  });

  it('is allowed once with a granted port-forward request; kubectl names no ports to the apiserver', async () => {
    await askAndGrant(['port-forward', 'web', '18080:8080', '-n', NS]);
    const first = await kubectl('alice', ['port-forward', '-n', NS, 'pod/web', '18080:8080']);
    assert.equal(first.outcome, 'allowed', first.result.stderr);
    const replay = await kubectl('alice', ['port-forward', '-n', NS, 'pod/web', '18080:8080']);
    assert.equal(replay.outcome, 'denied', replay.result.stderr);
    const allowed = audited('portforward').filter((line) => line.verdict === 'allowed');
    assert.equal(allowed.length, 1);
    assert.deepEqual(
      allowed[0]!.data!.request.object.ports ?? [],
      [],
      'kubectl sends PodPortForwardOptions without ports',
    );
  });

  it('a request for port 8080 does not allow 5432 when the client names its ports', async () => {
    await askAndGrant(['port-forward', 'web', '8080', '--only-ports', '-n', NS, '--valid-for', '10m']);
    assert.equal((await connect('alice', 'portforward', 'ports=5432')).outcome, 'denied');
    assert.equal((await connect('alice', 'portforward', 'ports=8080')).outcome, 'allowed');
    const kubectlRun = await kubectl('alice', ['port-forward', '-n', NS, 'pod/web', '18080:8080']);
    assert.equal(kubectlRun.outcome, 'denied', 'a port list cannot be checked for kubectl, so it is not used');
    assert.match(kubectlRun.result.stderr, /does not tell the apiserver which ports/);
  });
});

describe('kubectl debug', () => {
  const debugArgs = ['debug', '-n', NS, 'web', '--image=busybox:1.36', '--target=app', '--', 'ps', 'aux'];

  async function ephemeralContainers(): Promise<
    { name: string; image: string; targetContainerName?: string; command?: string[] }[]
  > {
    const pod = await getJson<{ spec: { ephemeralContainers?: never[] } }>(cp, ['pod', '-n', NS, 'web']);
    return pod.spec.ephemeralContainers ?? [];
  }

  it('is denied without a grant and adds nothing', async () => {
    const { outcome: verdict, result } = await kubectl('alice', debugArgs);
    assert.equal(verdict, 'denied', result.stderr);
    assert.match(result.stderr, /kubectl request debug -n team-a web --image busybox:1\.36 --target app/);
    assert.deepEqual(await ephemeralContainers(), []);
  });

  it('accepts exactly the requested ephemeral container once; another image or a second one is denied', async () => {
    await askAndGrant(['debug', 'web', '-n', NS, '--image', 'busybox:1.36', '--target', 'app', '--', 'ps', 'aux']);
    const otherImage = await kubectl('alice', [
      'debug',
      '-n',
      NS,
      'web',
      '--image=alpine:3',
      '--target=app',
      '--',
      'ps',
      'aux',
    ]);
    assert.equal(otherImage.outcome, 'denied', otherImage.result.stderr);
    const privileged = await kubectl('alice', [...debugArgs.slice(0, 5), '--profile=sysadmin', ...debugArgs.slice(5)]);
    assert.equal(privileged.outcome, 'denied', privileged.result.stderr);

    const accepted = await kubectl('alice', debugArgs);
    assert.equal(accepted.result.code, 0, accepted.result.stderr);
    const added = await ephemeralContainers();
    assert.equal(added.length, 1);
    assert.deepEqual(
      { image: added[0]!.image, target: added[0]!.targetContainerName, command: added[0]!.command },
      { image: 'busybox:1.36', target: 'app', command: ['ps', 'aux'] },
    );

    const second = await kubectl('alice', debugArgs);
    assert.equal(second.outcome, 'denied', second.result.stderr);
    assert.equal((await ephemeralContainers()).length, 1);

    // The attach that may follow is its own request.
    const attachAfter = await kubectl('alice', ['attach', '-n', NS, 'web', '-c', added[0]!.name]);
    assert.equal(attachAfter.outcome, 'denied', attachAfter.result.stderr);
  });
});

describe('kubectl cp', () => {
  it('copying out is denied without a grant, allowed once with a kubectl request cp', async () => {
    const local = path.join(dir, 'hostname');
    const denied = await kubectl('alice', ['cp', '-c', 'app', `${NS}/db:/etc/hostname`, local]);
    assert.equal(denied.outcome, 'denied', denied.result.stderr);
    await askAndGrant(['cp', '-c', 'app', `${NS}/db:/etc/hostname`, local]);
    const allowed = await kubectl('alice', ['cp', '-c', 'app', `${NS}/db:/etc/hostname`, local]);
    assert.equal(allowed.outcome, 'allowed', allowed.result.stderr);
    const line = audited('exec').find(
      (l) =>
        l.verdict === 'allowed' &&
        JSON.stringify(l.data?.execOptions.command) === JSON.stringify(['tar', 'cf', '-', '/etc/hostname']),
    );
    assert.ok(line, 'the tar cf - of kubectl cp was audited as allowed');
    assert.equal(line.data!.execOptions.stdin, false);
  });

  it('copying in needs a copy-in request; stdin is allowed only for its tar and audited as copy-in', async () => {
    const local = path.join(dir, 'fix.sql');
    await writeFile(local, 'select 1;\n');
    const target = `${NS}/web:/tmp/upload/fix.sql`;
    const denied = await kubectl('alice', ['cp', '-c', 'app', local, target]);
    assert.equal(denied.outcome, 'denied', denied.result.stderr);

    const name = await askAndGrant(['cp', '-c', 'app', local, target]);
    // Plain exec with stdin stays denied, copy-in grant or not.
    const shell = await kubectl('alice', ['exec', '-i', '-n', NS, 'web', '-c', 'app', '--', 'sh'], 'id\n');
    assert.equal(shell.outcome, 'denied', shell.result.stderr);
    // kubectl first runs `test -d /tmp/upload/fix.sql` (allowed, not used up; "no host" means "not a
    // directory" to kubectl), then `tar -xmf - -C /tmp/upload` with stdin, which uses the grant.
    const allowed = await kubectl('alice', ['cp', '-c', 'app', local, target]);
    assert.equal(allowed.outcome, 'allowed', allowed.result.stderr);
    assert.equal(await isUsed(cp, NS, name), true, 'the one-shot copy-in request is used up');
    const tar = audited('exec').find(
      (l) =>
        l.verdict === 'allowed' &&
        (l.data?.execOptions.copy as { path?: string } | undefined)?.path === '/tmp/upload' &&
        !(l.data?.execOptions.copy as { probe?: boolean }).probe,
    );
    assert.ok(tar, 'the copy-in tar was audited');
    assert.equal(tar.data!.execOptions.stdin, true);
    assert.deepEqual(tar.data!.execOptions.command, ['tar', '-xmf', '-', '-C', '/tmp/upload']);

    const replay = await kubectl('alice', ['cp', '-c', 'app', local, target]);
    assert.equal(replay.outcome, 'denied', replay.result.stderr);
  });
});
