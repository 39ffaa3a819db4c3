// wait, revoke, --reason, identical pending requests and --on-behalf-of, through runCli against
// the in-memory cluster.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AccessGrant, AccessRequest } from '../../../functions/schemas.ts';
import type { PodLike } from '../../../cli/lib/cluster.ts';
import { runCli } from '../../../cli/main.ts';
import { FakeCluster, fakeRuntime, status } from './fake.ts';

const web0: PodLike = {
  metadata: { name: 'web-0', namespace: 'shop', annotations: { 'kubectl.kubernetes.io/default-container': 'app' } },
  spec: { containers: [{ name: 'app' }] },
  status: { phase: 'Running' },
};

function pending(
  options: {
    user?: string;
    name?: string;
    command?: string[];
    annotations?: Record<string, string>;
    reason?: string;
  } = {},
): AccessRequest {
  const name = options.name ?? 'alice-web-0-abcd';
  return {
    apiVersion: 'kube-request-access.io/v1',
    kind: 'AccessRequest',
    metadata: {
      name,
      namespace: 'shop',
      uid: `uid-${name}`,
      resourceVersion: '1',
      creationTimestamp: '2026-01-10T11:55:00Z',
      ...(options.annotations ? { annotations: options.annotations } : {}),
    },
    spec: {
      userInfo: { username: options.user ?? 'alice' },
      forObject: {
        resource: { group: '', version: 'v1', resource: 'pods' },
        subResource: 'exec',
        name: 'web-0',
        namespace: 'shop',
      },
      validFor: '',
      execOptions: {
        stdin: false,
        stdout: true,
        stderr: true,
        tty: false,
        container: 'app',
        command: options.command ?? ['ls', '/tmp'],
      },
      ...(options.reason ? { reason: options.reason } : {}),
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

describe('kubectl request wait NAME', () => {
  it('waits for the grant of an earlier request, then for RBAC, and prints the command', async () => {
    const request = pending();
    let polls = 0;
    const cluster = new FakeCluster({
      requests: [request],
      canI: [false, true, true, true],
      onSleep: (fake) => {
        if (++polls === 2) fake.grants.push(decision(request, 'granted'));
      },
    });
    const rt = fakeRuntime(cluster);
    assert.equal(await runCli(['wait', request.metadata.name, '--timeout', '5m'], rt), 0, rt.out.stderr.join('\n'));
    assert.match(rt.out.stderr[0]!, /^waiting for an approver to decide on alice-web-0-abcd \(timeout 5m;/);
    assert.deepEqual(
      cluster.checks.slice(0, 2).map((c) => `${c.verb} pods/${c.subresource} ${c.name}`),
      ['create pods/exec web-0', 'get pods/exec web-0'],
    );
    assert.equal(rt.out.stdout.at(-1), 'granted by carol; run now:\n  kubectl exec -n shop web-0 -c app -- ls /tmp');
  });

  it('exits 3 with the reason for a denial, and 1 for a request that is not there', async () => {
    const request = pending();
    const denied = fakeRuntime(
      new FakeCluster({ requests: [request], grants: [decision(request, 'denied', 'use the replica')] }),
    );
    assert.equal(await runCli(['wait', request.metadata.name], denied), 3);
    assert.equal(denied.out.stderr.at(-1), 'error: alice-web-0-abcd was denied by carol: use the replica');

    const missing = fakeRuntime(new FakeCluster());
    assert.equal(await runCli(['wait', 'nope'], missing), 1);
    assert.deepEqual(missing.out.stderr, [
      'error: access request nope not found in namespace shop; run "kubectl request list --all" to see the requests there',
    ]);
  });

  it('times out with exit 4 and says how to keep waiting', async () => {
    const rt = fakeRuntime(new FakeCluster({ requests: [pending()] }));
    assert.equal(await runCli(['wait', 'alice-web-0-abcd', '--timeout=3s'], rt), 4);
    assert.equal(
      rt.out.stderr.at(-1),
      'error: timed out after 3s: alice-web-0-abcd is still pending; keep waiting with kubectl request wait alice-web-0-abcd -n shop',
    );
  });
});

describe('kubectl request revoke NAME', () => {
  it('deletes the grant after a summary, and says the request is pending again', async () => {
    const request = pending();
    const cluster = new FakeCluster({ user: 'carol', requests: [request], grants: [decision(request, 'granted')] });
    const rt = fakeRuntime(cluster);
    assert.equal(await runCli(['revoke', request.metadata.name, '--yes'], rt), 0, rt.out.stderr.join('\n'));
    assert.deepEqual(cluster.grants, []);
    assert.deepEqual(cluster.deleted, ['alice-web-0-abcd-grant']);
    assert.match(rt.out.stdout.join('\n'), /^alice asks to exec in pod shop\/web-0$/m);
    assert.match(rt.out.stdout.join('\n'), /^ {2}status: {6}granted by carol 2m ago$/m);
    assert.equal(
      rt.out.stdout.at(-2),
      "revoked alice-web-0-abcd: accessgrant/alice-web-0-abcd-grant deleted, alice's access ends with it",
    );
    assert.equal(
      rt.out.stdout.at(-1),
      'The request is pending again; to refuse it for good: kubectl request deny alice-web-0-abcd -n shop',
    );
  });

  it('asks first, and refuses without a terminal unless --yes', async () => {
    const request = pending();
    const cluster = new FakeCluster({ user: 'carol', requests: [request], grants: [decision(request, 'granted')] });
    const rt = fakeRuntime(cluster);
    assert.equal(await runCli(['revoke', request.metadata.name], rt), 2);
    assert.equal(cluster.grants.length, 1);
    const asked = fakeRuntime(cluster, { interactive: true, answer: 'y' });
    assert.equal(await runCli(['revoke', request.metadata.name], asked), 0);
    assert.deepEqual(asked.out.questions, ['Revoke this grant? [y/N] ']);
  });

  it('leaves a denial standing and has nothing to revoke on a pending request', async () => {
    const request = pending();
    const denied = fakeRuntime(
      new FakeCluster({ user: 'carol', requests: [request], grants: [decision(request, 'denied', 'no')] }),
    );
    assert.equal(await runCli(['revoke', request.metadata.name, '--yes'], denied), 1);
    assert.deepEqual(denied.out.stderr, [
      'error: alice-web-0-abcd was denied by carol 2m ago; a denial stands and is not revoked (only an admin can remove it)',
    ]);

    const open = fakeRuntime(new FakeCluster({ user: 'carol', requests: [request] }));
    assert.equal(await runCli(['revoke', request.metadata.name, '--yes'], open), 1);
    assert.deepEqual(open.out.stderr, [
      'error: alice-web-0-abcd has not been granted, so there is nothing to revoke; to refuse it: kubectl request deny alice-web-0-abcd -n shop',
    ]);
  });

  it("shows the webhook's refusal of someone who is not an approver", async () => {
    const request = pending();
    const cluster = new FakeCluster({
      user: 'bob',
      requests: [request],
      grants: [decision(request, 'granted')],
      fail: {
        deleteAccessGrant: status(
          403,
          'admission webhook "grants.kube-request-access.io" denied the request: only approvers (who may create AccessGrants in namespace shop) and admins can revoke AccessGrant alice-web-0-abcd-grant',
        ),
      },
    });
    const rt = fakeRuntime(cluster);
    assert.equal(await runCli(['revoke', request.metadata.name, '--yes'], rt), 3);
    assert.match(
      rt.out.stderr.at(-1)!,
      /^error: denied by the grants\.kube-request-access\.io webhook: only approvers/,
    );
  });
});

describe('what the requester says and who made the request', () => {
  it('stores --reason in spec.reason and shows it to the approver', async () => {
    const cluster = new FakeCluster({ pods: [web0] });
    const rt = fakeRuntime(cluster);
    assert.equal(
      await runCli(['exec', 'web-0', '--reason', 'OPS-1: the cache is stale', '--', 'ls'], rt),
      0,
      rt.out.stderr.join('\n'),
    );
    assert.equal(cluster.requests[0]!.spec.reason, 'OPS-1: the cache is stale');

    const approver = fakeRuntime(new FakeCluster({ user: 'carol', requests: cluster.requests }));
    assert.equal(await runCli(['grant', cluster.requests[0]!.metadata.name, '--yes'], approver), 0);
    assert.match(approver.out.stdout[0]!, /^ {2}why: {9}OPS-1: the cache is stale$/m);
  });

  it('the friends of exec take --reason too', async () => {
    const cluster = new FakeCluster({ pods: [web0] });
    const rt = fakeRuntime(cluster);
    assert.equal(await runCli(['attach', 'web-0', '--reason', 'watch the migration'], rt), 0, rt.out.stderr.join('\n'));
    assert.equal(cluster.requests[0]!.spec.reason, 'watch the migration');
  });

  it('refuses a request identical to a pending one of yours, names it and says how to wait for it', async () => {
    const existing = pending();
    const cluster = new FakeCluster({ pods: [web0], requests: [existing] });
    const rt = fakeRuntime(cluster);
    assert.equal(await runCli(['exec', 'web-0', '--reason', 'again', '--', 'ls', '/tmp'], rt), 1);
    assert.deepEqual(rt.out.stderr, [
      'error: an identical request of yours is already pending: alice-web-0-abcd (created 5m ago); wait for it with: kubectl request wait alice-web-0-abcd -n shop (or withdraw it: kubectl request cancel alice-web-0-abcd -n shop)',
    ]);
    assert.equal(cluster.requests.length, 1);

    // Another command, another window, or someone else's request: not identical.
    for (const args of [
      ['--', 'ls', '/'],
      ['--valid-for', '1h', '--', 'ls', '/tmp'],
    ]) {
      const other = fakeRuntime(cluster);
      assert.equal(await runCli(['exec', 'web-0', ...args], other), 0, other.out.stderr.join('\n'));
    }
    const bobs = new FakeCluster({ pods: [web0], user: 'bob', requests: [existing] });
    assert.equal(await runCli(['exec', 'web-0', '--', 'ls', '/tmp'], fakeRuntime(bobs)), 0);
  });

  it('does not count a decided request as pending', async () => {
    const existing = pending();
    const cluster = new FakeCluster({
      pods: [web0],
      requests: [existing],
      grants: [decision(existing, 'denied', 'no')],
    });
    const rt = fakeRuntime(cluster);
    assert.equal(await runCli(['exec', 'web-0', '--', 'ls', '/tmp'], rt), 0, rt.out.stderr.join('\n'));
  });

  it('--on-behalf-of records the creator; describe and list -o wide show it', async () => {
    const cluster = new FakeCluster({ pods: [web0], user: 'admin' });
    const rt = fakeRuntime(cluster);
    assert.equal(
      await runCli(['exec', 'web-0', '--on-behalf-of', 'alice', '--', 'id'], rt),
      0,
      rt.out.stderr.join('\n'),
    );
    const [created] = cluster.requests;
    assert.equal(created!.spec.userInfo.username, 'alice');
    assert.deepEqual(created!.metadata.annotations, { 'kube-request-access.io/created-by': 'admin' });

    const described = fakeRuntime(cluster);
    assert.equal(await runCli(['describe', created!.metadata.name], described), 0);
    assert.match(described.out.stdout[0]!, /^ {2}created by: {2}admin \(on behalf of alice\)$/m);

    const listed = fakeRuntime(cluster);
    assert.equal(await runCli(['list', '-o', 'wide'], listed), 0);
    const [header, row] = listed.out.stdout[0]!.split('\n');
    assert.match(header!, /\bCREATED-BY\b/);
    const column = header!.indexOf('CREATED-BY');
    assert.equal(row!.slice(column).split(/\s+/)[0], 'admin');
  });

  it('says whose pending request it is when an admin repeats one on behalf of someone', async () => {
    const cluster = new FakeCluster({ pods: [web0], user: 'admin', requests: [pending()] });
    const rt = fakeRuntime(cluster);
    assert.equal(await runCli(['exec', 'web-0', '--on-behalf-of', 'alice', '--', 'ls', '/tmp'], rt), 1);
    assert.match(rt.out.stderr[0]!, /^error: an identical request of alice is already pending: alice-web-0-abcd/);
  });
});
