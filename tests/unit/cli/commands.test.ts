// Commands driven end to end through runCli, against an in-memory cluster.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AccessGrant, AccessRequest } from '../../../functions/schemas.ts';
import type { PodLike } from '../../../cli/lib/cluster.ts';
import { runCli } from '../../../cli/main.ts';
import { FakeCluster, fakeRuntime, status } from './fake.ts';

const web0: PodLike = {
  metadata: { name: 'web-0', namespace: 'shop', annotations: { 'kubectl.kubernetes.io/default-container': 'app' } },
  spec: { containers: [{ name: 'istio-proxy' }, { name: 'app' }] },
  status: { phase: 'Running' },
};

function pendingRequest(user = 'alice', name = 'alice-web-0-abcd'): AccessRequest {
  return {
    apiVersion: 'kube-request-access.io/v1',
    kind: 'AccessRequest',
    metadata: {
      name,
      namespace: 'shop',
      uid: `uid-${name}`,
      resourceVersion: '1',
      creationTimestamp: '2026-01-10T11:55:00Z',
    },
    spec: {
      userInfo: { username: user },
      forObject: {
        resource: { group: '', version: 'v1', resource: 'pods' },
        subResource: 'exec',
        name: 'web-0',
        namespace: 'shop',
      },
      validFor: '',
      execOptions: { stdin: false, stdout: true, stderr: true, tty: false, container: 'app', command: ['ls', '/tmp'] },
    },
  };
}

function decision(request: AccessRequest, status: 'granted' | 'denied', reason?: string): AccessGrant {
  return {
    metadata: {
      name: `${request.metadata.name}-grant`,
      namespace: 'shop',
      uid: 'g',
      resourceVersion: '2',
      creationTimestamp: '2026-01-10T11:58:00Z',
    },
    spec: {
      grantFor: request.metadata.name,
      grantForUID: request.metadata.uid,
      grantedBy: { username: 'carol' },
      ...(reason ? { reason } : {}),
    },
    status,
  };
}

describe('kubectl request exec', () => {
  it('creates the AccessRequest and prints its name and the kubectl exec to run', async () => {
    const cluster = new FakeCluster({ pods: [web0] });
    const rt = fakeRuntime(cluster);
    const code = await runCli(
      [
        'exec',
        'web-0',
        '--context',
        'alice',
        '-k',
        'ticket=OPS-1',
        '-k',
        'team=core',
        '--valid-for',
        '30m',
        '--',
        'cat',
        '/etc/app config',
      ],
      rt,
    );
    assert.equal(code, 0, rt.out.stderr.join('\n'));
    assert.deepEqual(rt.connections, [{ context: 'alice' }]);
    const [created] = cluster.requests;
    assert.deepEqual(created, {
      apiVersion: 'kube-request-access.io/v1',
      kind: 'AccessRequest',
      metadata: {
        generateName: 'alice-web-0-',
        name: 'alice-web-0-abcd0',
        namespace: 'shop',
        uid: 'uid-alice-web-0-abcd0',
        creationTimestamp: '2026-01-10T11:55:00Z',
      },
      spec: {
        userInfo: { username: 'alice' },
        forObject: {
          resource: { group: '', version: 'v1', resource: 'pods' },
          subResource: 'exec',
          name: 'web-0',
          namespace: 'shop',
        },
        validFor: '30m',
        execOptions: { container: 'app', command: ['cat', '/etc/app config'], stdout: true, stderr: true },
        customKeys: { ticket: 'OPS-1', team: 'core' },
      },
    });
    assert.deepEqual(rt.out.stdout, [
      'accessrequest/alice-web-0-abcd0 created in namespace shop',
      'An approver grants it with: kubectl request grant alice-web-0-abcd0 -n shop',
      "Once it is granted, run:\n  kubectl --context alice exec -n shop web-0 -c app -- cat '/etc/app config'",
    ]);
  });

  it('requests on behalf of another user when asked', async () => {
    const cluster = new FakeCluster({ pods: [web0], user: 'admin' });
    const rt = fakeRuntime(cluster);
    assert.equal(await runCli(['exec', 'web-0', '--on-behalf-of', 'alice', '--', 'id'], rt), 0);
    assert.equal(cluster.requests[0]!.spec.userInfo.username, 'alice');
    assert.equal(cluster.requests[0]!.metadata.generateName, 'alice-web-0-');
  });

  it('--wait: prints progress, waits for the grant and then for RBAC, exits 0', async () => {
    let polls = 0;
    const cluster = new FakeCluster({
      pods: [web0],
      canI: [false, true, true, true],
      onSleep: (fake) => {
        if (++polls === 3) fake.grants.push(decision(fake.requests[0]!, 'granted'));
      },
    });
    const rt = fakeRuntime(cluster);
    const code = await runCli(['exec', 'web-0', '--wait=5m', '--', 'ls'], rt);
    assert.equal(code, 0, rt.out.stderr.join('\n'));
    assert.match(rt.out.stderr[0]!, /^waiting for an approver to decide on alice-web-0-abcd0 \(timeout 5m;/);
    assert.ok(rt.out.stderr.includes('granted by carol; waiting until RBAC lets you in'));
    assert.deepEqual(
      cluster.checks.map((c) => `${c.verb} ${c.resource}/${c.subresource} ${c.namespace}/${c.name}`),
      [
        'create pods/exec shop/web-0',
        'get pods/exec shop/web-0',
        'create pods/exec shop/web-0',
        'get pods/exec shop/web-0',
      ],
    );
    assert.equal(rt.out.stdout.at(-1), 'granted by carol; run now:\n  kubectl exec -n shop web-0 -c app -- ls');
  });

  it('--wait: a denial exits 3 with the reason', async () => {
    const cluster = new FakeCluster({
      pods: [web0],
      onSleep: (fake) => {
        if (fake.grants.length === 0) fake.grants.push(decision(fake.requests[0]!, 'denied', 'use the replica'));
      },
    });
    const rt = fakeRuntime(cluster);
    assert.equal(await runCli(['exec', 'web-0', '--wait', '--', 'ls'], rt), 3);
    assert.equal(rt.out.stderr.at(-1), 'error: alice-web-0-abcd0 was denied by carol: use the replica');
  });

  it('--run: waits for the grant, runs the granted kubectl exec with the same connection, exits with its code', async () => {
    let polls = 0;
    const cluster = new FakeCluster({
      pods: [web0],
      onSleep: (fake) => {
        if (++polls === 2) fake.grants.push(decision(fake.requests[0]!, 'granted'));
      },
    });
    const rt = fakeRuntime(cluster, { kubectlExit: 7 });
    const code = await runCli(
      ['exec', 'web-0', '--run', '--kubeconfig', '/k/config', '--context', 'alice@prod', '--', 'cat', '/etc/motd'],
      rt,
    );
    assert.equal(code, 7, rt.out.stderr.join('\n'));
    assert.deepEqual(rt.out.kubectl, [
      [
        '--kubeconfig',
        '/k/config',
        '--context',
        'alice@prod',
        'exec',
        '-n',
        'shop',
        'web-0',
        '-c',
        'app',
        '--',
        'cat',
        '/etc/motd',
      ],
    ]);
    // stdout is the command's: what the plugin says goes to stderr.
    assert.deepEqual(rt.out.stdout, []);
    assert.equal(rt.out.stderr[0], 'accessrequest/alice-web-0-abcd0 created in namespace shop');
    assert.match(rt.out.stderr.join('\n'), /waiting for an approver to decide on alice-web-0-abcd0 \(timeout 15m;/);
    assert.equal(
      rt.out.stderr.at(-1),
      'granted by carol; running: kubectl --kubeconfig /k/config --context alice@prod exec -n shop web-0 -c app -- cat /etc/motd',
    );
  });

  it('--run: a denial runs nothing and exits 3 with the reason; --wait sets the timeout', async () => {
    const cluster = new FakeCluster({
      pods: [web0],
      onSleep: (fake) => {
        if (fake.grants.length === 0) fake.grants.push(decision(fake.requests[0]!, 'denied', 'use the replica'));
      },
    });
    const rt = fakeRuntime(cluster);
    assert.equal(await runCli(['exec', 'web-0', '--run', '--wait=2m', '--', 'ls'], rt), 3);
    assert.deepEqual(rt.out.kubectl, []);
    assert.match(rt.out.stderr.join('\n'), /\(timeout 2m;/);
    assert.equal(rt.out.stderr.at(-1), 'error: alice-web-0-abcd0 was denied by carol: use the replica');

    const timedOut = fakeRuntime(new FakeCluster({ pods: [web0] }));
    assert.equal(await runCli(['exec', 'web-0', '--run', '--wait', '3s', '--', 'ls'], timedOut), 4);
    assert.deepEqual(timedOut.out.kubectl, []);
  });

  it('--run needs a command to run', async () => {
    const rt = fakeRuntime(new FakeCluster({ pods: [web0] }));
    assert.equal(await runCli(['exec', 'web-0', '--run', '--any-command'], rt), 2);
    assert.match(rt.out.stderr[0]!, /^error: --run runs the command named after "--", and --any-command names none/);
  });

  it('--wait: gives up after the timeout with exit 4', async () => {
    const cluster = new FakeCluster({ pods: [web0] });
    const rt = fakeRuntime(cluster);
    assert.equal(await runCli(['exec', 'web-0', '--wait=3s', '--', 'ls'], rt), 4);
    assert.match(
      rt.out.stderr.at(-1)!,
      /^error: timed out after 3s: alice-web-0-abcd0 is still pending; keep waiting with kubectl request wait alice-web-0-abcd0 -n shop$/,
    );
  });

  it('shows the webhook message when the apiserver refuses the request', async () => {
    const cluster = new FakeCluster({
      pods: [web0],
      fail: {
        createAccessRequest: status(
          403,
          'admission webhook "access-requests.kube-request-access.io" denied the request: spec.validFor: at most 12h is allowed, requested 24h; ask for a shorter window',
        ),
      },
    });
    const rt = fakeRuntime(cluster);
    assert.equal(await runCli(['exec', 'web-0', '--valid-for', '24h', '--', 'ls'], rt), 3);
    assert.deepEqual(rt.out.stderr, [
      'error: denied by the access-requests.kube-request-access.io webhook: spec.validFor: at most 12h is allowed, requested 24h; ask for a shorter window',
    ]);
  });

  it('says when the CRDs are not installed', async () => {
    const cluster = new FakeCluster({
      pods: [web0],
      fail: { createAccessRequest: status(404, 'the server could not find the requested resource') },
    });
    const rt = fakeRuntime(cluster);
    assert.equal(await runCli(['exec', 'web-0', '--', 'ls'], rt), 1);
    assert.match(
      rt.out.stderr.join('\n'),
      /^error: the kube-request-access API \(kube-request-access.io\/v1\) is not installed on this cluster; ask a cluster admin/,
    );
  });

  it('says when the cluster cannot be reached, in one line', async () => {
    const refused = Object.assign(
      new Error('request to https://127.0.0.1:6443/apis failed, reason: connect ECONNREFUSED 127.0.0.1:6443'),
      {
        code: 'ECONNREFUSED',
      },
    );
    const cluster = new FakeCluster({ fail: { whoAmI: refused } });
    const rt = fakeRuntime(cluster);
    assert.equal(await runCli(['exec', 'web-0', '--', 'ls'], rt), 1);
    assert.deepEqual(rt.out.stderr, [
      'error: cannot reach the cluster at https://127.0.0.1:6443 (ECONNREFUSED); check --context/--kubeconfig and that the cluster is up',
    ]);
  });

  it('a usage error exits 2 and points at the help', async () => {
    const rt = fakeRuntime(new FakeCluster());
    assert.equal(await runCli(['exec', 'web-0', '--valid-for', 'forever', '--', 'ls'], rt), 2);
    assert.deepEqual(rt.out.stderr, [
      'error: --valid-for needs a duration such as 30m, 1h or 1h30m (got "forever") (see kubectl request exec --help)',
    ]);
    assert.deepEqual(rt.connections, [], 'no cluster contacted for a usage error');
  });

  it('treats --help after "--" as part of the command', async () => {
    const cluster = new FakeCluster({ pods: [web0] });
    const rt = fakeRuntime(cluster);
    assert.equal(await runCli(['exec', 'web-0', '--', 'grep', '--help'], rt), 0);
    assert.deepEqual(cluster.requests[0]!.spec.execOptions?.command, ['grep', '--help']);
  });
});

describe('kubectl request grant / deny', () => {
  it('refuses without a terminal, without an answer on stdin and without --yes, creating nothing', async () => {
    const cluster = new FakeCluster({ user: 'carol', requests: [pendingRequest()] });
    const rt = fakeRuntime(cluster, { interactive: false });
    assert.equal(await runCli(['grant', 'alice-web-0-abcd'], rt), 2);
    assert.deepEqual(cluster.grants, []);
    assert.deepEqual(rt.out.stderr, [
      'error: refusing to grant alice-web-0-abcd without confirmation: no terminal to ask on and nothing on stdin; re-run with --yes, or pipe the answer in (echo y | ...) (see kubectl request grant --help)',
    ]);
    assert.match(rt.out.stdout[0]!, /^alice asks to exec in pod shop\/web-0/, 'the summary still comes first');
  });

  it('shows the summary, asks, and grants on "y"', async () => {
    const cluster = new FakeCluster({ user: 'carol', requests: [pendingRequest()] });
    const rt = fakeRuntime(cluster, { interactive: true, answer: 'y' });
    assert.equal(await runCli(['grant', 'alice-web-0-abcd'], rt), 0);
    assert.deepEqual(rt.out.questions, ['Grant this request? [y/N] ']);
    assert.deepEqual(rt.out.stdout, [
      [
        'alice asks to exec in pod shop/web-0',
        '  request:     alice-web-0-abcd',
        '  container:   app',
        '  command:     ls /tmp',
        '  access:      once (a single exec)',
        '  custom keys: (none)',
        '  age:         5m',
      ].join('\n'),
      'granted alice-web-0-abcd: alice may now run (once):',
      '  kubectl exec -n shop web-0 -c app -- ls /tmp',
    ]);
    assert.deepEqual(cluster.grants[0], {
      apiVersion: 'kube-request-access.io/v1',
      kind: 'AccessGrant',
      metadata: { name: 'alice-web-0-abcd-grant', namespace: 'shop', creationTimestamp: '2026-01-10T11:58:00Z' },
      spec: { grantFor: 'alice-web-0-abcd', grantForUID: 'uid-alice-web-0-abcd', grantedBy: { username: 'carol' } },
      status: 'granted',
    });
  });

  for (const answer of ['y', 'yes', 'Y', ' yes ']) {
    it(`grants on a piped "${answer}" without a terminal, as the seed's plugin did`, async () => {
      const cluster = new FakeCluster({ user: 'carol', requests: [pendingRequest()] });
      const rt = fakeRuntime(cluster, { interactive: false, answer });
      assert.equal(await runCli(['grant', 'alice-web-0-abcd'], rt), 0);
      assert.equal(cluster.grants[0]!.status, 'granted');
    });
  }

  for (const answer of ['', 'n', 'yess', 'sure']) {
    it(`changes nothing on a piped ${JSON.stringify(answer)}`, async () => {
      const cluster = new FakeCluster({ user: 'carol', requests: [pendingRequest()] });
      const rt = fakeRuntime(cluster, { interactive: false, answer });
      assert.equal(await runCli(['deny', 'alice-web-0-abcd'], rt), 1);
      assert.deepEqual(cluster.grants, []);
      assert.deepEqual(rt.out.stderr, ['error: not confirmed; nothing was changed']);
    });
  }

  it('changes nothing when the answer is not yes', async () => {
    const cluster = new FakeCluster({ user: 'carol', requests: [pendingRequest()] });
    const rt = fakeRuntime(cluster, { interactive: true, answer: '' });
    assert.equal(await runCli(['grant', 'alice-web-0-abcd'], rt), 1);
    assert.deepEqual(cluster.grants, []);
    assert.deepEqual(rt.out.stderr, ['error: not confirmed; nothing was changed']);
  });

  it('denies with --yes and a reason', async () => {
    const cluster = new FakeCluster({ user: 'carol', requests: [pendingRequest()] });
    const rt = fakeRuntime(cluster);
    assert.equal(await runCli(['deny', 'alice-web-0-abcd', '--yes', '--reason', 'use the replica'], rt), 0);
    assert.equal(cluster.grants[0]!.status, 'denied');
    assert.equal(cluster.grants[0]!.spec.reason, 'use the replica');
    assert.equal(rt.out.stdout.at(-1), 'denied alice-web-0-abcd (reason: use the replica)');
  });

  it('says "already granted" instead of asking again', async () => {
    const request = pendingRequest();
    const cluster = new FakeCluster({ user: 'dave', requests: [request], grants: [decision(request, 'granted')] });
    const rt = fakeRuntime(cluster, { interactive: true, answer: 'y' });
    assert.equal(await runCli(['deny', 'alice-web-0-abcd', '-n', 'shop'], rt), 1);
    assert.deepEqual(rt.out.stderr, ['error: alice-web-0-abcd is already granted by carol 2m ago; nothing to do']);
    assert.deepEqual(rt.out.questions, []);
  });

  it('reports a decision that lands between reading and writing as already decided', async () => {
    const request = pendingRequest();
    const cluster = new FakeCluster({ user: 'carol', requests: [request] });
    // Someone else denies while the prompt is open: our create conflicts.
    const rt = fakeRuntime(cluster, { interactive: true, answer: 'yes' });
    const question = rt.io.question;
    rt.io.question = async (prompt) => {
      cluster.grants.push({
        ...decision(request, 'denied'),
        spec: { ...decision(request, 'denied').spec, grantedBy: { username: 'erin' } },
      });
      return question(prompt);
    };
    assert.equal(await runCli(['grant', 'alice-web-0-abcd'], rt), 1);
    assert.deepEqual(rt.out.stderr, ['error: alice-web-0-abcd is already denied by erin 2m ago; nothing to do']);
  });

  it('refuses to grant your own request', async () => {
    const cluster = new FakeCluster({ user: 'alice', requests: [pendingRequest()] });
    const rt = fakeRuntime(cluster);
    assert.equal(await runCli(['grant', 'alice-web-0-abcd', '--yes'], rt), 3);
    assert.deepEqual(rt.out.stderr, [
      'error: you cannot grant your own request alice-web-0-abcd; another approver has to',
    ]);
  });

  it('explains RBAC refusing the grant in one line', async () => {
    const cluster = new FakeCluster({
      user: 'dave',
      requests: [pendingRequest()],
      fail: {
        createAccessGrant: status(
          403,
          'accessgrants.kube-request-access.io is forbidden: User "dave" cannot create resource "accessgrants" in API group "kube-request-access.io" in the namespace "shop"',
        ),
      },
    });
    const rt = fakeRuntime(cluster);
    assert.equal(await runCli(['grant', 'alice-web-0-abcd', '--yes'], rt), 3);
    assert.deepEqual(rt.out.stderr, [
      'error: not allowed to grant alice-web-0-abcd: accessgrants.kube-request-access.io is forbidden: User "dave" cannot create resource "accessgrants" in API group "kube-request-access.io" in the namespace "shop"; ask a cluster admin for the role you need',
    ]);
  });

  it('says when the request does not exist', async () => {
    const rt = fakeRuntime(new FakeCluster({ user: 'carol' }));
    assert.equal(await runCli(['grant', 'nope', '--yes'], rt), 1);
    assert.deepEqual(rt.out.stderr, [
      'error: access request nope not found in namespace shop; run "kubectl request list --all" to see the requests there',
    ]);
  });
});

describe('kubectl request list / describe / cancel', () => {
  it('lists pending requests by default and all with --all', async () => {
    const granted = pendingRequest('bob', 'bob-web-0-zzzz');
    const cluster = new FakeCluster({ requests: [pendingRequest(), granted], grants: [decision(granted, 'granted')] });
    let rt = fakeRuntime(cluster);
    assert.equal(await runCli(['list'], rt), 0);
    assert.equal(rt.out.stdout.length, 1);
    assert.match(rt.out.stdout[0]!, /alice-web-0-abcd/);
    assert.doesNotMatch(rt.out.stdout[0]!, /bob-web-0-zzzz/);
    rt = fakeRuntime(cluster);
    assert.equal(await runCli(['list', '--all'], rt), 0);
    assert.match(rt.out.stdout[0]!, /bob-web-0-zzzz .*Granted/);
  });

  it('prints a kubectl-style List for -o json', async () => {
    const cluster = new FakeCluster({ requests: [pendingRequest()] });
    const rt = fakeRuntime(cluster);
    assert.equal(await runCli(['list', '-o', 'json'], rt), 0);
    const doc = JSON.parse(rt.out.stdout[0]!) as { kind: string; items: AccessRequest[] };
    assert.equal(doc.kind, 'List');
    assert.deepEqual(
      doc.items.map((i) => i.metadata.name),
      ['alice-web-0-abcd'],
    );
  });

  it('says so on stderr when nothing is pending', async () => {
    const rt = fakeRuntime(new FakeCluster());
    assert.equal(await runCli(['list'], rt), 0);
    assert.deepEqual(rt.out.stdout, []);
    assert.deepEqual(rt.out.stderr, ['No pending access requests in namespace shop. (--all shows decided ones too)']);
  });

  it('describes a granted request with the command to run', async () => {
    const request = pendingRequest();
    const rt = fakeRuntime(new FakeCluster({ requests: [request], grants: [decision(request, 'granted')] }));
    assert.equal(await runCli(['describe', 'alice-web-0-abcd'], rt), 0);
    assert.match(
      rt.out.stdout.join('\n'),
      /status: {6}Granted\n {2}decided by: {2}carol, 2m ago\n {2}run: {9}kubectl exec -n shop web-0 -c app -- ls \/tmp$/,
    );
  });

  it("cancels your own request and refuses someone else's", async () => {
    const cluster = new FakeCluster({
      user: 'alice',
      requests: [pendingRequest(), pendingRequest('bob', 'bob-web-0-zzzz')],
    });
    let rt = fakeRuntime(cluster);
    assert.equal(await runCli(['cancel', 'alice-web-0-abcd'], rt), 0);
    assert.deepEqual(cluster.deleted, ['alice-web-0-abcd']);
    rt = fakeRuntime(cluster);
    assert.equal(await runCli(['cancel', 'bob-web-0-zzzz'], rt), 3);
    assert.match(
      rt.out.stderr[0]!,
      /^error: bob-web-0-zzzz was requested by bob, not by you \(alice\); only the requester cancels/,
    );
    assert.deepEqual(cluster.deleted, ['alice-web-0-abcd']);
  });
});

describe('kubectl request grant with a policy that wants two approvals', () => {
  const twoApprovers = {
    apiVersion: 'kube-request-access.io/v1',
    kind: 'AccessPolicy',
    metadata: { name: 'production', namespace: 'shop', uid: 'uid-policy' },
    spec: { requiredApprovals: 2 },
  };

  it('shows 1 of 2 after the first approval, and the second approver gets a grant of their own', async () => {
    const request = pendingRequest();
    const first = new FakeCluster({ user: 'carol', requests: [request], policies: [twoApprovers] });
    assert.equal(await runCli(['grant', 'alice-web-0-abcd', '--yes'], fakeRuntime(first)), 0);
    assert.deepEqual(
      first.grants.map((g) => g.metadata.name),
      ['alice-web-0-abcd-grant'],
    );

    const listed = fakeRuntime(
      new FakeCluster({ user: 'carol', requests: [request], grants: first.grants, policies: [twoApprovers] }),
    );
    assert.equal(await runCli(['list'], listed), 0);
    assert.match(listed.out.stdout.join('\n'), /Pending \(1 of 2 approvals\)/);

    const second = new FakeCluster({
      user: 'dave',
      requests: [request],
      grants: [...first.grants],
      policies: [twoApprovers],
    });
    assert.equal(await runCli(['grant', 'alice-web-0-abcd', '--yes'], fakeRuntime(second)), 0);
    assert.deepEqual(
      second.grants.map((g) => g.metadata.name),
      ['alice-web-0-abcd-grant', 'alice-web-0-abcd-grant-dave'],
    );
  });

  it('without the policy, a second grant is refused as already decided', async () => {
    const request = pendingRequest();
    const cluster = new FakeCluster({ user: 'dave', requests: [request], grants: [decision(request, 'granted')] });
    const rt = fakeRuntime(cluster);
    assert.equal(await runCli(['grant', 'alice-web-0-abcd', '--yes'], rt), 1);
    assert.match(rt.out.stderr.join('\n'), /already granted/);
  });
});
