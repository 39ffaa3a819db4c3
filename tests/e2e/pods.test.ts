// Real pods end to end: the control plane runs KWOK (tests/controlplane/kwok.ts), so pod `box` on
// node kwok-node is Running and answers the kubelet API. Commands run on this host in the pod's
// sandbox directory. What the product promises past admission is checked here with the real
// kubectl and its default transports (WebSocket first): an allowed exec prints the command's
// output and exits with its code, cp copies real files both ways, port-forward carries an HTTP
// request, attach shows output, debug adds its container. Developers hold no standing exec: each
// grant makes the webhook bind the granted role to the requester, and the webhook decides.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort, startControlPlane, type ControlPlane, type User } from '../controlplane/cluster.ts';
import {
  accessGrant,
  getJson,
  isUsed,
  kubectlRequest,
  mustCreate,
  outcome,
  roleBindings,
  runningPod,
  waitFor,
} from './_kra.ts';

const NS = 'team-a';
const NOTES = 'hello from the sandbox of team-a/box\n';
let cp: ControlPlane;
let dir: string;
let sandbox: string;

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kra-pods-'));
  cp = await startControlPlane({ dir, webhook: true, kwok: true, log: (line) => console.error(`# ${line}`) });
  sandbox = await runningPod(cp, 'box', NS, ['app', 'sidecar']);
  await writeFile(path.join(sandbox, 'notes.txt'), NOTES);
  await writeFile(path.join(sandbox, 'motd.txt'), 'one-shot message of the day\n');
  await mkdir(path.join(sandbox, 'upload'));
});

after(async () => {
  await cp?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** alice asks with the plugin (ARGS after the subcommand), carol grants it; resolves once the RoleBinding exists. */
async function askAndGrant(args: readonly string[]): Promise<string> {
  const asked = await kubectlRequest(cp, 'alice', [args[0]!, '-n', NS, ...args.slice(1)]);
  assert.equal(asked.code, 0, asked.stderr + asked.stdout);
  const name = /accessrequest\/(\S+) created/.exec(asked.stdout)?.[1];
  assert.ok(name, asked.stdout);
  await mustCreate(cp, 'carol', accessGrant({ name, namespace: NS, grantFor: name, by: 'carol' }));
  await waitFor(
    `the RoleBinding for ${name}`,
    async () => (await roleBindings(cp, NS)).some((b) => b.metadata.name.endsWith(`.${name}`)),
    10_000,
  );
  return name;
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

/** The webhook's audit-exec events for `subResource` (and, for exec, exactly `command`). */
function audited(subResource: string, command?: readonly string[]): AuditLine[] {
  return readFileSync(cp.logs.webhook, 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('{') && line.includes('"log":"audit"'))
    .map((line) => JSON.parse(line) as AuditLine)
    .filter((line) => line.type === 'audit-exec' && line.data?.request.subResource === subResource)
    .filter((line) => !command || JSON.stringify(line.data?.execOptions.command) === JSON.stringify(command));
}

/** A long-running kubectl (attach, port-forward) as `user`, with its output so far. */
function startKubectl(
  user: User,
  args: readonly string[],
): { child: ChildProcess; out: () => string; stdout: () => string; stop: () => Promise<number | null> } {
  const child = spawn(
    'kubectl',
    ['--kubeconfig', cp.kubeconfig, '--context', user, '--cache-dir', path.join(dir, 'kube-cache'), ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let stdout = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => ((out += chunk), (stdout += chunk)));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  const closed = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return {
    child,
    out: () => out,
    stdout: () => stdout,
    stop: async () => {
      clearTimeout(timer);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return closed;
    },
  };
}

describe('kubectl exec on a real pod (WebSocket first, kubectl defaults)', () => {
  it("prints the granted command's output and exits 0", async () => {
    await askAndGrant(['exec', 'box', '-c', 'app', '--valid-for', '10m', '--', 'cat', 'notes.txt']);
    const result = await cp.kubectl('alice', ['exec', '-n', NS, 'box', '-c', 'app', '--', 'cat', 'notes.txt']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, NOTES);
  });

  it("exits with the command's own exit code, stderr included", async () => {
    await askAndGrant(['exec', 'box', '-c', 'app', '--valid-for', '10m', '--', 'cat', 'missing.txt']);
    const missing = await cp.kubectl('alice', ['exec', '-n', NS, 'box', '-c', 'app', '--', 'cat', 'missing.txt']);
    assert.equal(missing.code, 1, missing.stderr);
    assert.match(missing.stderr, /missing\.txt: No such file or directory/);
    assert.match(missing.stderr, /command terminated with exit code 1/);

    await askAndGrant(['exec', 'box', '-c', 'app', '--valid-for', '10m', '--', 'sh', '-c', 'exit 7']);
    const seven = await cp.kubectl('alice', ['exec', '-n', NS, 'box', '-c', 'app', '--', 'sh', '-c', 'exit 7']);
    assert.equal(seven.code, 7, seven.stderr);
  });

  it("runs in the pod's sandbox directory", async () => {
    await askAndGrant(['exec', 'box', '-c', 'app', '--valid-for', '10m', '--', 'pwd']);
    const result = await cp.kubectl('alice', ['exec', '-n', NS, 'box', '-c', 'app', '--', 'pwd']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), sandbox);
  });

  it('a one-shot request: one kubectl exec reaches the webhook once and prints the output; the next is denied', async () => {
    const command = ['cat', 'motd.txt'];
    const name = await askAndGrant(['exec', 'box', '-c', 'app', '--', ...command]);
    const first = await cp.kubectl('alice', ['exec', '-n', NS, 'box', '-c', 'app', '--', ...command]);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stdout, 'one-shot message of the day\n');
    const reviewed = audited('exec', command);
    assert.deepEqual(
      reviewed.map((line) => line.verdict),
      ['allowed'],
      'the WebSocket upgrade succeeds: no SPDY retry, one review',
    );
    assert.equal(await isUsed(cp, NS, name), true, 'the one-shot request is used up');

    const second = await cp.kubectl('alice', ['exec', '-n', NS, 'box', '-c', 'app', '--', ...command]);
    assert.notEqual(second.code, 0);
    assert.equal(second.stdout, '');
    // RBAC refuses once the used request's RoleBinding is gone; while alice holds another grant
    // in team-a, the webhook does.
    assert.ok(['denied', 'forbidden'].includes(outcome(second.stderr)), second.stderr);
    console.error(
      `# reviews of ${command.join(' ')}: ${JSON.stringify(audited('exec', command).map((line) => line.verdict))}`,
    );
  });

  it("a command nobody granted is denied with the webhook's message, and prints nothing", async () => {
    // alice holds the granted role in team-a (time-bound grants above), so RBAC lets her through:
    // the refusal is the webhook's.
    const result = await cp.kubectl('alice', ['exec', '-n', NS, 'box', '-c', 'app', '--', 'ls', '/']);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, '');
    assert.equal(outcome(result.stderr), 'denied', result.stderr);
    assert.match(result.stderr, /kubectl request exec/);
  });
});

describe('kubectl cp on a real pod', () => {
  it('copies a file out of the pod', async () => {
    const local = path.join(dir, 'notes-copy.txt');
    await askAndGrant(['cp', '-c', 'app', `${NS}/box:notes.txt`, local]);
    const result = await cp.kubectl('alice', ['cp', '-c', 'app', `${NS}/box:notes.txt`, local]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(await readFile(local, 'utf8'), NOTES);
    assert.deepEqual(
      audited('exec', ['tar', 'cf', '-', 'notes.txt']).map((line) => line.verdict),
      ['allowed'],
    );
  });

  it('copies a file into the pod: the test -d probe answers "no directory", then tar writes the file', async () => {
    const local = path.join(dir, 'fix.sql');
    await writeFile(local, 'select 1;\n');
    const upload = path.join(sandbox, 'upload');
    const target = `${NS}/box:${upload}/fix.sql`;
    const name = await askAndGrant(['cp', '-c', 'app', local, target]);
    const result = await cp.kubectl('alice', ['cp', '-c', 'app', local, target]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(await readFile(path.join(upload, 'fix.sql'), 'utf8'), 'select 1;\n');
    assert.equal(await isUsed(cp, NS, name), true, 'the one-shot copy-in request is used up');
    const probe = audited('exec', ['test', '-d', `${upload}/fix.sql`]);
    assert.deepEqual(
      probe.map((line) => line.verdict),
      ['allowed'],
      'kubectl probed the destination once',
    );
    assert.deepEqual(
      audited('exec', ['tar', '-xmf', '-', '-C', upload]).map((line) => line.verdict),
      ['allowed'],
    );
  });

  it('copies into an existing directory of the pod: the probe answers "directory", the file keeps its name', async () => {
    const local = path.join(dir, 'readme.md');
    await writeFile(local, '# copied in\n');
    const upload = path.join(sandbox, 'upload');
    await askAndGrant(['cp', '-c', 'app', local, `${NS}/box:${upload}/`]);
    const result = await cp.kubectl('alice', ['cp', '-c', 'app', local, `${NS}/box:${upload}`]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(await readFile(path.join(upload, 'readme.md'), 'utf8'), '# copied in\n');
  });
});

describe('kubectl port-forward, attach and debug on a real pod', () => {
  let web: Server | undefined;
  after(() => web?.close());

  it("port-forward carries an HTTP request to a server in the pod's working directory", async () => {
    // The "container's" server: static files from the sandbox, on a loopback port of this host.
    web = createServer((req, res) => {
      const file = path.join(
        sandbox,
        path.normalize(decodeURIComponent((req.url ?? '/').split('?')[0]!)).replace(/^(\.\.[/\\])+/, ''),
      );
      readFile(file).then(
        (body) => res.writeHead(200, { 'content-type': 'text/plain' }).end(body),
        () => res.writeHead(404).end('not found\n'),
      );
    });
    const serverPort = await new Promise<number>((resolve) =>
      web!.listen(0, '127.0.0.1', () => resolve((web!.address() as { port: number }).port)),
    );
    await cp.kwok!.forward(NS, 'box', 8080, serverPort);
    await askAndGrant(['port-forward', 'box', '8080']);

    const local = await freePort();
    const forward = startKubectl('alice', [
      'port-forward',
      '-n',
      NS,
      'pod/box',
      `${local}:8080`,
      '--address',
      '127.0.0.1',
    ]);
    try {
      await waitFor(
        'kubectl port-forward to listen',
        async () => /Forwarding from 127\.0\.0\.1/.test(forward.out()) || forward.child.exitCode !== null,
        20_000,
        100,
      );
      assert.match(forward.out(), /Forwarding from 127\.0\.0\.1/);
      const body = await new Promise<string>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port: local, path: '/notes.txt', timeout: 15_000 }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve(`${res.statusCode} ${text}`));
        });
        req.on('timeout', () => req.destroy(new Error('HTTP through the port-forward timed out')));
        req.on('error', reject);
        req.end();
      });
      assert.equal(body, `200 ${NOTES}`);
    } finally {
      await forward.stop();
    }
    assert.deepEqual(
      audited('portforward').map((line) => line.verdict),
      ['allowed'],
      'one port-forward, one review',
    );
  });

  it('attach shows what the container prints', async () => {
    await askAndGrant(['attach', 'box', '-c', 'app']);
    const attach = startKubectl('alice', ['attach', '-n', NS, 'box', '-c', 'app']);
    try {
      // KWOK follows the log from its end: keep printing until kubectl shows a line.
      let n = 0;
      await waitFor(
        'the attached output',
        async () => {
          cp.kwok!.print(NS, 'box', `tick ${++n}`);
          return /^tick \d+$/m.test(attach.stdout()) || attach.child.exitCode !== null;
        },
        20_000,
        250,
      );
      assert.match(attach.stdout(), /^tick \d+$/m, attach.out());
    } finally {
      await attach.stop();
    }
    assert.deepEqual(
      audited('attach').map((line) => line.verdict),
      ['allowed'],
    );
    const logs = await cp.kubectl('alice', ['logs', '-n', NS, 'box', '-c', 'app']);
    assert.equal(logs.code, 0, logs.stderr);
    assert.match(logs.stdout, /^tick 1$/m);
  });

  it('debug is admitted and its ephemeral container is added to the running pod and reported running', async () => {
    await askAndGrant(['debug', 'box', '--image', 'busybox:1.36', '--target', 'app', '--', 'ps', 'aux']);
    const result = await cp.kubectl('alice', [
      'debug',
      '-n',
      NS,
      'box',
      '--image=busybox:1.36',
      '--target=app',
      '--',
      'ps',
      'aux',
    ]);
    assert.equal(result.code, 0, result.stderr);
    const running = await getJson<{
      spec: { ephemeralContainers?: { name: string; image: string; targetContainerName?: string }[] };
      status: { phase: string };
    }>(cp, ['pod', '-n', NS, 'box']);
    assert.deepEqual(
      running.spec.ephemeralContainers?.map((c) => [c.image, c.targetContainerName]),
      [['busybox:1.36', 'app']],
    );
    assert.equal(running.status.phase, 'Running');
    // KWOK reports it started, as a kubelet would.
    const name = running.spec.ephemeralContainers![0]!.name;
    await waitFor(
      `ephemeral container ${name} running`,
      async () => {
        const pod = await getJson<{
          status: { ephemeralContainerStatuses?: { name: string; state: { running?: object } }[] };
        }>(cp, ['pod', '-n', NS, 'box']);
        return pod.status.ephemeralContainerStatuses?.some((c) => c.name === name && c.state.running);
      },
      10_000,
      100,
    );
  });
});
