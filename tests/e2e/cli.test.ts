// kubectl-request end to end: the plugin as users run it (`kubectl request …`, found on PATH,
// KUBECONFIG from the environment) against a real kube-apiserver whose webhook is our `serve`
// command. Developers hold no standing exec here: a grant makes the webhook bind the granted role,
// which is what `--wait` waits for before it says "run now".
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT, startControlPlane, type ControlPlane, type User } from '../controlplane/cluster.ts';
import { execProbe, getJson, kubectlExec, runningPod } from './_kra.ts';
import { createCA } from '../support/pki.ts';

let cp: ControlPlane;
let dir: string;
let binDir: string;

const NS = 'team-a';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

interface Running {
  /** Resolves with the first stdout match of `pattern`. */
  waitForStdout(pattern: RegExp): Promise<RegExpMatchArray>;
  /** Resolves with the first stderr match of `pattern` (with --run the plugin speaks on stderr). */
  waitForStderr(pattern: RegExp): Promise<RegExpMatchArray>;
  done: Promise<Result>;
}

/**
 * `kubectl request --context USER ARGS…`, as the plugin on PATH, stdin not a terminal: empty, or
 * `input` through a pipe.
 */
function start(user: User, args: readonly string[], env: Record<string, string> = {}, input?: string): Running {
  const child = spawn('kubectl', ['request', '--context', user, ...args], {
    cwd: ROOT,
    stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    env: {
      ...process.env,
      PATH: `${binDir}${path.delimiter}${process.env.PATH ?? ''}`,
      KUBECONFIG: cp.kubeconfig,
      NO_COLOR: '1',
      ...env,
    },
  });
  let stdout = '';
  let stderr = '';
  const watchers: { stream: 'stdout' | 'stderr'; pattern: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  const notify = () => {
    for (const w of [...watchers]) {
      const match = (w.stream === 'stdout' ? stdout : stderr).match(w.pattern);
      if (match) {
        watchers.splice(watchers.indexOf(w), 1);
        w.resolve(match);
      }
    }
  };
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    notify();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    notify();
  });
  if (input !== undefined) child.stdin!.end(input);
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  const done = new Promise<Result>((resolve) =>
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    }),
  );
  return {
    done,
    waitForStdout: (pattern) => waitFor('stdout', pattern),
    waitForStderr: (pattern) => waitFor('stderr', pattern),
  };
  function waitFor(stream: 'stdout' | 'stderr', pattern: RegExp): Promise<RegExpMatchArray> {
    const match = (stream === 'stdout' ? stdout : stderr).match(pattern);
    if (match) return Promise.resolve(match);
    return new Promise((resolve, reject) => {
      watchers.push({ stream, pattern, resolve });
      void done.then((r) => reject(new Error(`exited ${r.code} before printing ${pattern}: ${r.stderr}${r.stdout}`)));
    });
  }
}

/** The first group of the first stderr match of `pattern` (the request name). */
async function waitForStderr(running: Running, pattern: RegExp): Promise<string> {
  return (await running.waitForStderr(pattern))[1]!;
}

function request(user: User, args: readonly string[], env?: Record<string, string>): Promise<Result> {
  return start(user, args, env).done;
}

function pod(
  name: string,
  options: { labels?: Record<string, string>; containers?: string[]; defaultContainer?: string } = {},
) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: NS,
      ...(options.labels ? { labels: options.labels } : {}),
      ...(options.defaultContainer
        ? { annotations: { 'kubectl.kubernetes.io/default-container': options.defaultContainer } }
        : {}),
    },
    spec: { containers: (options.containers ?? ['app']).map((c) => ({ name: c, image: 'busybox' })) },
  };
}

const CREATED = /accessrequest\/(\S+) created in namespace team-a/;

interface StoredRequest {
  metadata: { name: string; uid: string };
  spec: {
    userInfo: { username: string };
    forObject: { name: string; namespace: string; subResource: string };
    execOptions: { container: string; command: string[] };
    customKeys?: Record<string, string>;
  };
}

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kra-cli-'));
  binDir = path.join(dir, 'bin');
  await rm(binDir, { recursive: true, force: true });
  await import('node:fs/promises').then((fs) => fs.mkdir(binDir));
  await symlink(path.join(ROOT, 'bin/kubectl-request.mjs'), path.join(binDir, 'kubectl-request'));
  await symlink(path.join(ROOT, 'bin/kubectl_complete-request.mjs'), path.join(binDir, 'kubectl_complete-request'));
  cp = await startControlPlane({ dir, webhook: true, log: (line) => console.error(`# ${line}`) });
  await cp.apply([
    // The annotation names the second container: the CLI must pick it, not the first.
    pod('web-0', { containers: ['sidecar', 'app'], defaultContainer: 'app' }),
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'shop', namespace: NS },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'shop' } },
        template: { metadata: { labels: { app: 'shop' } }, spec: { containers: [{ name: 'shop', image: 'busybox' }] } },
      },
    },
    pod('shop-pending', { labels: { app: 'shop' }, containers: ['shop'] }),
    pod('shop-running', { labels: { app: 'shop' }, containers: ['shop'] }),
    pod('other-running', { labels: { app: 'other' }, containers: ['shop'] }),
  ]);
  // No kubelet runs pods here: mark the ones the test treats as running.
  for (const name of ['shop-running', 'other-running']) {
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

describe('kubectl request, end to end', () => {
  it('alice asks with --wait, carol grants, the printed kubectl exec is allowed at once, a replay is denied', async () => {
    // Before anything: RBAC refuses alice's exec.
    assert.equal(
      (
        await kubectlExec(cp, 'alice', {
          namespace: NS,
          pod: 'web-0',
          container: 'app',
          command: ['ls', '/tmp'],
          spdy: true,
        })
      ).outcome,
      'forbidden',
    );

    const asking = start('alice', ['exec', 'web-0', '-n', NS, '-k', 'ticket=OPS-1', '--wait=90s', '--', 'ls', '/tmp']);
    const [, name] = (await asking.waitForStdout(CREATED)) as [string, string];
    assert.match(name, /^alice-web-0-[a-z0-9]{5}$/);
    const stored = await getJson<StoredRequest>(cp, ['accessrequest', '-n', NS, name]);
    assert.deepEqual(stored.spec.userInfo, { username: 'alice' });
    assert.deepEqual(
      {
        pod: stored.spec.forObject.name,
        sub: stored.spec.forObject.subResource,
        container: stored.spec.execOptions.container,
        command: stored.spec.execOptions.command,
      },
      { pod: 'web-0', sub: 'exec', container: 'app', command: ['ls', '/tmp'] },
    );
    assert.deepEqual(stored.spec.customKeys, { ticket: 'OPS-1' });

    // carol sees it pending.
    const pending = await request('carol', ['list', '-n', NS]);
    assert.equal(pending.code, 0, pending.stderr);
    assert.match(pending.stdout, new RegExp(`^${name}\\s+alice\\s+web-0\\s+ls /tmp\\s+once\\s+Pending`, 'm'));

    // Without a terminal and without --yes, grant refuses rather than hang.
    const unconfirmed = await request('carol', ['grant', name, '-n', NS]);
    assert.equal(unconfirmed.code, 2);
    assert.match(unconfirmed.stdout, /^alice asks to exec in pod team-a\/web-0$/m);
    assert.match(unconfirmed.stdout, /^ {2}command: {5}ls \/tmp$/m);
    assert.equal(
      unconfirmed.stderr.trim(),
      `error: refusing to grant ${name} without confirmation: no terminal to ask on and nothing on stdin; re-run with --yes, or pipe the answer in (echo y | ...) (see kubectl request grant --help)`,
    );

    const granted = await request('carol', ['grant', name, '-n', NS, '--yes']);
    assert.equal(granted.code, 0, granted.stderr);
    assert.match(granted.stdout, new RegExp(`^granted ${name}: alice may now run \\(once\\):$`, 'm'));

    const again = await request('carol', ['grant', name, '-n', NS, '--yes']);
    assert.equal(again.code, 1);
    assert.match(
      again.stderr.trim(),
      new RegExp(`^error: ${name} is already granted by carol \\d+s ago; nothing to do$`),
    );

    const waited = await asking.done;
    assert.equal(waited.code, 0, waited.stderr);
    assert.match(waited.stderr, /waiting for an approver to decide on/);
    assert.match(waited.stderr, /granted by carol; waiting until RBAC lets you in/);
    assert.match(
      waited.stdout,
      /granted by carol; run now:\n {2}kubectl --context alice exec -n team-a web-0 -c app -- ls \/tmp\n/,
    );

    // The printed command works at once (no sleeping here): admission passes, the pod has no node.
    const exec = await kubectlExec(cp, 'alice', {
      namespace: NS,
      pod: 'web-0',
      container: 'app',
      command: ['ls', '/tmp'],
      spdy: true,
    });
    assert.equal(exec.outcome, 'allowed', exec.stderr);

    // The one-shot is used up. Give alice standing RBAC so the replay reaches the webhook, which
    // must refuse it with its own message (without it RBAC alone would refuse once unbound).
    await cp.apply([
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: 'e2e:alice-standing-exec' },
        roleRef: {
          apiGroup: 'rbac.authorization.k8s.io',
          kind: 'ClusterRole',
          name: 'kube-request-access-granted-exec',
        },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'alice' }],
      },
    ]);
    try {
      const replay = await execProbe(cp, 'alice', {
        namespace: NS,
        pod: 'web-0',
        container: 'app',
        command: ['ls', '/tmp'],
      });
      assert.equal(replay.status, 403, replay.body);
      assert.equal(replay.outcome, 'denied', replay.body);
      // The denial names the used-up request.
      assert.match(replay.body, new RegExp(`AccessRequest ${name} was used at`));
    } finally {
      await cp.kubectl('admin', ['delete', 'clusterrolebinding', 'e2e:alice-standing-exec']);
    }
  });

  it("--run: alice waits, carol grants with a piped y, the plugin runs kubectl exec: its output and exit code are alice's", async () => {
    const sandbox = await runningPod(cp, 'box', NS, ['app']);
    await writeFile(path.join(sandbox, 'notes.txt'), 'notes of team-a/box\n');
    // The seed's flags: -d for --valid-for, --custom-key with two pairs in one word.
    const asking = start(
      'alice',
      [
        'exec',
        'box',
        '-n',
        NS,
        '-d',
        '10m',
        '--custom-key',
        'ticket=OPS-9,team=db',
        '--run',
        '--',
        'sh',
        '-c',
        'cat notes.txt; exit 3',
      ],
      { KUBECACHEDIR: path.join(dir, 'kube-cache') },
    );
    const name = await waitForStderr(asking, /accessrequest\/(\S+) created in namespace team-a/);
    const stored = await getJson<StoredRequest & { spec: { validFor: string } }>(cp, ['accessrequest', '-n', NS, name]);
    assert.equal(stored.spec.validFor, '10m');
    assert.deepEqual(stored.spec.customKeys, { ticket: 'OPS-9', team: 'db' });

    // A piped answer that is not yes changes nothing; a piped y grants, as with the seed's plugin.
    const refused = await start('carol', ['grant', name, '-n', NS], {}, 'n\n').done;
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /^error: not confirmed; nothing was changed$/m);
    const granted = await start('carol', ['grant', name, '-n', NS], {}, 'y\n').done;
    assert.equal(granted.code, 0, granted.stderr);
    assert.match(granted.stdout, new RegExp(`^granted ${name}: alice may now run \\(for 10m\\):$`, 'm'));

    const ran = await asking.done;
    assert.equal(ran.code, 3, ran.stderr);
    assert.equal(ran.stdout, 'notes of team-a/box\n');
    assert.match(ran.stderr, /waiting for an approver to decide on/);
    assert.match(
      ran.stderr,
      new RegExp(
        `granted by carol; running: kubectl --context alice exec -n team-a box -c app -- sh -c 'cat notes.txt; exit 3'`,
      ),
    );
    assert.match(ran.stderr, /command terminated with exit code 3/);
  });

  it('--run: a denial runs nothing and exits 3 with the reason', async () => {
    const asking = start('alice', ['exec', 'web-0', '-n', NS, '--run', '--wait', '90s', '--', 'cat', '/etc/shadow']);
    const name = await waitForStderr(asking, /accessrequest\/(\S+) created in namespace team-a/);
    const denied = await request('carol', ['deny', name, '-n', NS, '--yes', '--reason', 'no secrets']);
    assert.equal(denied.code, 0, denied.stderr);
    const result = await asking.done;
    assert.equal(result.code, 3, result.stderr);
    assert.equal(result.stdout, '');
    assert.equal(result.stderr.trim().split('\n').at(-1), `error: ${name} was denied by carol: no secrets`);
  });

  it('a denial with a reason reaches the waiting requester, exit 3', async () => {
    const asking = start('alice', [
      'exec',
      'web-0',
      '-n',
      NS,
      '--wait',
      '90s',
      '--reason',
      'OPS-7: config drift',
      '--',
      'cat',
      '/etc/secret',
    ]);
    const [, name] = (await asking.waitForStdout(CREATED)) as [string, string];
    const stored = await getJson<StoredRequest & { spec: { reason?: string } }>(cp, ['accessrequest', '-n', NS, name]);
    assert.equal(stored.spec.reason, 'OPS-7: config drift');
    // The same request again is refused with the pending one's name.
    const twice = await request('alice', ['exec', 'web-0', '-n', NS, '--', 'cat', '/etc/secret']);
    assert.equal(twice.code, 1, twice.stderr);
    assert.match(
      twice.stderr,
      new RegExp(
        `^error: an identical request of yours is already pending: ${name} .*kubectl request wait ${name} -n team-a`,
        'm',
      ),
    );
    const denied = await request('carol', [
      'deny',
      name,
      '-n',
      NS,
      '--yes',
      '--reason',
      'read the config from the repo',
    ]);
    assert.equal(denied.code, 0, denied.stderr);
    assert.match(denied.stdout, new RegExp(`^denied ${name} \\(reason: read the config from the repo\\)$`, 'm'));
    const waited = await asking.done;
    assert.equal(waited.code, 3, waited.stderr);
    assert.equal(
      waited.stderr.trim().split('\n').at(-1),
      `error: ${name} was denied by carol: read the config from the repo`,
    );

    const described = await request('alice', ['describe', name, '-n', NS]);
    assert.equal(described.code, 0, described.stderr);
    assert.match(described.stdout, /^ {2}status: {6}Denied$/m);
    assert.match(described.stdout, /^ {2}reason: {6}read the config from the repo$/m);
  });

  it('resolves a deployment to its running pod, and the requester can cancel', async () => {
    const result = await request('alice', ['exec', 'deployment/shop', '-n', NS, '--', 'id']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /deployment\/shop resolved to pod shop-running/);
    const [, name] = result.stdout.match(CREATED) as [string, string];
    assert.match(result.stdout, /kubectl --context alice exec -n team-a shop-running -c shop -- id/);
    const stored = await getJson<StoredRequest>(cp, ['accessrequest', '-n', NS, name]);
    assert.equal(stored.spec.forObject.name, 'shop-running');

    const notHers = await request('bob', ['cancel', name, '-n', NS]);
    assert.equal(notHers.code, 3);
    assert.match(notHers.stderr, new RegExp(`^error: ${name} was requested by alice, not by you \\(bob\\)`));

    const cancelled = await request('alice', ['cancel', name, '-n', NS]);
    assert.equal(cancelled.code, 0, cancelled.stderr);
    const gone = await request('alice', ['describe', name, '-n', NS]);
    assert.equal(gone.code, 1);
    assert.equal(
      gone.stderr.trim(),
      `error: access request ${name} not found in namespace team-a; run "kubectl request list --all" to see the requests there`,
    );
  });

  it('a grant by someone who is not an approver is refused in one line', async () => {
    const created = await request('alice', ['exec', 'web-0', '-n', NS, '--', 'ls']);
    assert.equal(created.code, 0, created.stderr);
    const [, name] = created.stdout.match(CREATED) as [string, string];

    // bob is a developer: he may read requests but not create grants.
    const bob = await request('bob', ['grant', name, '-n', NS, '--yes']);
    assert.equal(bob.code, 3);
    assert.equal(bob.stderr.split('\n').filter(Boolean).length, 1, bob.stderr);
    assert.match(
      bob.stderr,
      /^error: not allowed to grant \S+: .*User "bob" cannot create resource "accessgrants" .*; ask a cluster admin for the role you need$/m,
    );

    // dave holds no role at all: he cannot even read the request.
    const dave = await request('dave', ['grant', name, '-n', NS, '--yes']);
    assert.equal(dave.code, 3);
    assert.equal(dave.stderr.split('\n').filter(Boolean).length, 1, dave.stderr);
    assert.match(
      dave.stderr,
      /^error: not allowed to read access request \S+: .*User "dave" cannot get resource "accessrequests"/m,
    );

    // alice cannot grant her own request (refused before asking the cluster).
    const own = await request('alice', ['grant', name, '-n', NS, '--yes']);
    assert.equal(own.code, 3);
    assert.match(own.stderr, /you cannot grant your own request/);

    const listed = await request('carol', ['list', '-n', NS, '--all', '-o', 'json']);
    assert.equal(listed.code, 0, listed.stderr);
    const names = (JSON.parse(listed.stdout) as { items: StoredRequest[] }).items.map((i) => i.metadata.name);
    assert.ok(names.includes(name), names.join(','));
  });

  it('shows the webhook message when it refuses a request', async () => {
    // Only always-allowed admins may ask on behalf of someone else.
    const result = await request('alice', ['exec', 'web-0', '-n', NS, '--on-behalf-of', 'bob', '--', 'ls']);
    assert.equal(result.code, 3, result.stderr);
    assert.match(result.stderr.trim(), /^error: denied by the \S+ webhook: .+/);
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
  });

  it('refuses -it and a forgotten "--" with what to do instead', async () => {
    const interactive = await request('alice', ['exec', '-it', 'web-0', '-n', NS, '--', 'sh']);
    assert.equal(interactive.code, 2);
    assert.match(
      interactive.stderr,
      /^error: interactive exec is not allowed: -i\/--stdin and -t\/--tty cannot be requested/,
    );
    const bare = await request('alice', ['exec', 'web-0', '-n', NS, '--valid-for', '5m']);
    assert.equal(bare.code, 2);
    assert.match(bare.stderr, /pass --any-command/);
    const typo = await request('alice', ['lsit']);
    assert.match(typo.stderr, /did you mean "list"\?/);
  });

  it('carol grants, alice waits by name, carol revokes: the grant is gone and the request pending again', async () => {
    const created = await request('alice', ['exec', 'web-0', '-n', NS, '--valid-for', '10m', '--', 'date']);
    assert.equal(created.code, 0, created.stderr);
    const [, name] = created.stdout.match(CREATED) as [string, string];
    assert.equal((await request('carol', ['grant', name, '-n', NS, '--yes'])).code, 0);
    const waited = await request('alice', ['wait', name, '-n', NS, '--timeout', '60s']);
    assert.equal(waited.code, 0, waited.stderr);
    assert.match(
      waited.stdout,
      /granted by carol; run now:\n {2}kubectl --context alice exec -n team-a web-0 -c app -- date/,
    );

    const names = await request('carol', ['list', '-n', NS, '--all', '-o', 'name']);
    assert.match(names.stdout, new RegExp(`^accessrequest\\.kube-request-access\\.io/${name}$`, 'm'));
    const users = await request('carol', [
      'list',
      '-n',
      NS,
      '--all',
      '-o',
      `jsonpath={range .items[?(@.metadata.name)]}{end}`,
    ]);
    assert.equal(users.code, 2, 'filters are not supported and say so');

    const bob = await request('bob', ['revoke', name, '-n', NS, '--yes']);
    assert.equal(bob.code, 3, bob.stderr);
    const revoked = await request('carol', ['revoke', name, '-n', NS, '--yes']);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match(revoked.stdout, new RegExp(`^revoked ${name}: accessgrant/${name}-grant deleted`, 'm'));
    const described = await request('alice', ['describe', name, '-n', NS]);
    assert.match(described.stdout, /^ {2}status: {6}Pending$/m);
  });

  it('kubectl completes "kubectl request" through kubectl_complete-request, with request names from the cluster', async () => {
    const created = await request('alice', ['exec', 'web-0', '-n', NS, '--', 'uname']);
    const [, name] = created.stdout.match(CREATED) as [string, string];
    const run = (args: string[]) =>
      new Promise<string>((resolve) => {
        const child = spawn('kubectl', ['__complete', ...args], {
          env: {
            ...process.env,
            PATH: `${binDir}${path.delimiter}${process.env.PATH ?? ''}`,
            KUBECONFIG: cp.kubeconfig,
          },
        });
        let out = '';
        child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
        child.once('close', () => resolve(out));
      });
    assert.match(await run(['request', 'rev']), /^revoke\t/m);
    const names = await run(['request', '--context', 'carol', '-n', NS, 'grant', '']);
    assert.match(names, new RegExp(`^${name}\talice: uname on web-0 \\(Pending\\)$`, 'm'));
  });

  it('says the certificate is not trusted when the kubeconfig has the wrong CA', async () => {
    const other = await createCA('not the cluster CA');
    const config = (await readFile(cp.kubeconfig, 'utf8')).replace(
      /certificate-authority-data: \S+/,
      `certificate-authority-data: ${Buffer.from(other.cert).toString('base64')}`,
    );
    const kubeconfig = path.join(dir, 'wrong-ca.yaml');
    await writeFile(kubeconfig, config);
    const result = await request('alice', ['list'], { KUBECONFIG: kubeconfig });
    assert.equal(result.code, 1);
    assert.match(
      result.stderr.trim(),
      /^error: the cluster at https:\/\/\S+ is not trusted \([A-Z_]+\): .*certificate-authority/,
    );
    assert.doesNotMatch(result.stderr, /cannot reach/);
  });

  it('says in one line when the cluster cannot be reached', async () => {
    const kubeconfig = path.join(dir, 'unreachable.yaml');
    await writeFile(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:1', 'insecure-skip-tls-verify': true } }],
        users: [{ name: 'u', user: { token: 't' } }],
        contexts: [{ name: 'alice', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'alice',
      }),
    );
    const result = await request('alice', ['list'], { KUBECONFIG: kubeconfig });
    assert.equal(result.code, 1);
    assert.equal(
      result.stderr.trim(),
      'error: cannot reach the cluster at https://127.0.0.1:1 (ECONNREFUSED); check --context/--kubeconfig and that the cluster is up',
    );
  });
});
