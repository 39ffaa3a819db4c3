// The plugin's side of break-glass and policies (issue 18), through runCli against the in-memory
// cluster: --break-glass on a request command and on grant, review, list --needs-review, describe's
// break-glass and review lines, "N of M approvals" in grant, and kubectl request policy.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PodLike } from '../../../cli/lib/cluster.ts';
import { runCli } from '../../../cli/main.ts';
import type { AccessGrant, AccessRequest } from '../../../functions/schemas.ts';
import { FakeCluster, fakeRuntime } from './fake.ts';

const web0: PodLike = {
  metadata: { name: 'web-0', namespace: 'shop', annotations: { 'kubectl.kubernetes.io/default-container': 'app' } },
  spec: { containers: [{ name: 'app' }] },
  status: { phase: 'Running' },
};

function request(user = 'alice', name = 'alice-web-0-abcd'): AccessRequest {
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

function grantOf(
  req: AccessRequest,
  by: string,
  status: AccessGrant['status'],
  extra: Partial<AccessGrant['spec']> = {},
  name = `${req.metadata.name}-grant`,
): AccessGrant {
  return {
    metadata: {
      name,
      namespace: 'shop',
      uid: `uid-${name}`,
      resourceVersion: '2',
      creationTimestamp: '2026-01-10T11:58:00Z',
    },
    spec: { grantFor: req.metadata.name, grantForUID: req.metadata.uid, grantedBy: { username: by }, ...extra },
    status,
  };
}

const policy = (spec: Record<string, unknown>, name = 'production') => ({
  apiVersion: 'kube-request-access.io/v1',
  kind: 'AccessPolicy',
  metadata: { name, namespace: 'shop', uid: 'p', resourceVersion: '1' },
  spec,
});
const glassPolicy = policy({ requiredApprovals: 2, breakGlass: { groups: ['developers'], maxValidFor: '30m' } });

describe('--break-glass', () => {
  it('exec --break-glass --reason creates the request, then its own break-glass grant', async () => {
    const cluster = new FakeCluster({ pods: [web0], policies: [glassPolicy] });
    const rt = fakeRuntime(cluster);
    const code = await runCli(
      ['exec', 'web-0', '--break-glass', '--reason', 'INC-7: checkout down', '--', 'ls', '/tmp'],
      rt,
    );
    assert.equal(code, 0, rt.out.stderr.join('\n'));
    assert.equal(cluster.grants.length, 1);
    const grant = cluster.grants[0]!;
    assert.equal(grant.spec.breakGlass, true);
    assert.equal(grant.spec.grantedBy.username, 'alice');
    assert.equal(grant.spec.reason, 'INC-7: checkout down');
    assert.equal(grant.spec.grantForUID, cluster.requests[0]!.metadata.uid);
    assert.match(rt.out.stderr.join('\n'), /break-glass: you granted .* yourself; .*kubectl request review/);
    assert.match(
      rt.out.stdout.join('\n'),
      /granted by break-glass; run now:\n {2}kubectl exec -n shop web-0 -c app -- ls \/tmp/,
    );
  });

  it('needs --reason, and is not for --on-behalf-of', async () => {
    const rt = fakeRuntime(new FakeCluster({ pods: [web0] }));
    assert.equal(await runCli(['exec', 'web-0', '--break-glass', '--', 'ls'], rt), 2);
    assert.match(rt.out.stderr.join('\n'), /--break-glass needs --reason/);
    const other = fakeRuntime(new FakeCluster({ pods: [web0] }));
    assert.equal(
      await runCli(['exec', 'web-0', '--break-glass', '--reason', 'x', '--on-behalf-of', 'bob', '--', 'ls'], other),
      2,
    );
  });

  it("grant --break-glass grants your own pending request; not someone else's", async () => {
    const own = request();
    const cluster = new FakeCluster({ requests: [own], policies: [glassPolicy] });
    const rt = fakeRuntime(cluster);
    assert.equal(
      await runCli(['grant', own.metadata.name, '--break-glass', '--reason', 'INC-7', '--yes'], rt),
      0,
      rt.out.stderr.join('\n'),
    );
    assert.equal(cluster.grants[0]?.spec.breakGlass, true);
    const bobs = request('bob', 'bob-web-0-abcd');
    const refused = fakeRuntime(new FakeCluster({ requests: [bobs] }));
    assert.equal(await runCli(['grant', bobs.metadata.name, '--break-glass', '--reason', 'x', '--yes'], refused), 2);
    assert.match(refused.out.stderr.join('\n'), /--break-glass is for your own request only/);
  });
});

describe('kubectl request review and list --needs-review', () => {
  const req = request();
  const glass = grantOf(req, 'alice', 'granted', { breakGlass: true, reason: 'INC-7' });

  it('lists a break-glass request until another approver reviews it', async () => {
    const cluster = new FakeCluster({ user: 'carol', requests: [req, request('bob', 'bob-web-0-x')], grants: [glass] });
    const listed = fakeRuntime(cluster);
    assert.equal(await runCli(['list', '--needs-review'], listed), 0);
    const table = listed.out.stdout.join('\n');
    assert.match(table, /^NAMESPACE\s+NAME/);
    assert.match(table, /alice-web-0-abcd .*\[break-glass, needs review\]/);
    assert.doesNotMatch(table, /bob-web-0-x/);

    const reviewed = fakeRuntime(cluster);
    assert.equal(
      await runCli(['review', req.metadata.name, '--reason', 'checked'], reviewed),
      0,
      reviewed.out.stderr.join('\n'),
    );
    const review = cluster.grants.at(-1)!;
    assert.equal(review.status, 'reviewed');
    assert.equal(review.metadata.name, 'alice-web-0-abcd-review');
    assert.equal(review.spec.grantedBy.username, 'carol');
    assert.equal(review.spec.reason, 'checked');

    const after = fakeRuntime(cluster);
    assert.equal(await runCli(['list', '--needs-review'], after), 0);
    assert.deepEqual(after.out.stdout, []);
    assert.match(after.out.stderr.join('\n'), /No break-glass requests need a review/);

    const again = fakeRuntime(cluster);
    assert.equal(await runCli(['review', req.metadata.name], again), 1);
    assert.match(again.out.stderr.join('\n'), /already reviewed by carol/);
  });

  it('the requester cannot review their own; a request without break-glass has nothing to review', async () => {
    const own = fakeRuntime(new FakeCluster({ user: 'alice', requests: [req], grants: [glass] }));
    assert.equal(await runCli(['review', req.metadata.name], own), 3);
    assert.match(own.out.stderr.join('\n'), /you cannot review your own break-glass request/);
    const plain = fakeRuntime(
      new FakeCluster({ user: 'carol', requests: [req], grants: [grantOf(req, 'dave', 'granted')] }),
    );
    assert.equal(await runCli(['review', req.metadata.name], plain), 1);
    assert.match(plain.out.stderr.join('\n'), /was not granted by break-glass/);
  });

  it('describe shows the break-glass grant and whether it was reviewed', async () => {
    const rt = fakeRuntime(new FakeCluster({ requests: [req], grants: [glass], policies: [glassPolicy] }));
    assert.equal(await runCli(['describe', req.metadata.name], rt), 0);
    const text = rt.out.stdout.join('\n');
    assert.match(text, /status: +Granted/);
    assert.match(text, /break-glass: by alice, 2m ago: INC-7/);
    assert.match(text, /reviewed: +not yet; another approver runs: kubectl request review alice-web-0-abcd -n shop/);
    const done = fakeRuntime(
      new FakeCluster({ requests: [req], grants: [glass, grantOf(req, 'carol', 'reviewed', { reason: 'ok' }, 'r')] }),
    );
    await runCli(['describe', req.metadata.name], done);
    assert.match(done.out.stdout.join('\n'), /reviewed: +by carol, 2m ago: ok/);
  });
});

describe('grant with a policy that wants two approvals', () => {
  it('shows the approvals so far and what is still needed', async () => {
    const req = request();
    const cluster = new FakeCluster({ user: 'carol', requests: [req], policies: [policy({ requiredApprovals: 2 })] });
    const rt = fakeRuntime(cluster);
    assert.equal(await runCli(['grant', req.metadata.name, '--yes'], rt), 0, rt.out.stderr.join('\n'));
    assert.match(rt.out.stdout.join('\n'), /approvals: +0 of 2/);
    assert.match(
      rt.out.stdout.at(-1)!,
      /granted alice-web-0-abcd: 1 of 2 approvals; it needs 1 more from other approvers/,
    );
  });
});

describe('kubectl request policy', () => {
  const policies = [
    policy({
      approvers: { users: ['carol', 'dave'] },
      requiredApprovals: 2,
      maxValidFor: '2h',
      requireReason: true,
      requiredCustomKeys: [{ key: 'ticket', pattern: '^OPS-[0-9]+$', description: 'the incident ticket' }],
      breakGlass: { groups: ['developers'] },
    }),
    policy({ preApproved: [{ command: ['cat', '/etc/hostname'], container: 'app' }] }, 'reads'),
  ];

  it('explains approvals, requirements, pre-approval and break-glass for a command', async () => {
    const rt = fakeRuntime(new FakeCluster({ pods: [web0], policies }));
    assert.equal(await runCli(['policy', 'web-0', '--', 'ls'], rt), 0, rt.out.stderr.join('\n'));
    const text = rt.out.stdout.join('\n');
    assert.match(text, /AccessPolicies of namespace shop: production, reads/);
    assert.match(text, /approvals: +2 distinct approvers, named by every one of: user carol, user dave \(production\)/);
    assert.match(
      text,
      /requires: +a reason: --reason "\.\.\." \(production\); ticket \(the incident ticket\) matching \^OPS-\[0-9\]\+\$: --key ticket=VALUE/,
    );
    assert.match(text, /pre-approved: cat \/etc\/hostname in container app \(reads\)/);
    assert.match(text, /needs 2 approvals from the approvers named above \(never your own\)/);
    assert.match(text, /break-glass: available to you \(alice\) under AccessPolicy shop\/production/);
  });

  it('says a pre-approved command is auto-approved, and a too long window refused', async () => {
    const pre = fakeRuntime(new FakeCluster({ pods: [web0], policies }));
    await runCli(['policy', 'web-0', '--', 'cat', '/etc/hostname'], pre);
    assert.match(pre.out.stdout.join('\n'), /auto-approved: pre-approved by AccessPolicy reads/);
    const long = fakeRuntime(new FakeCluster({ pods: [web0], policies }));
    await runCli(['policy', 'web-0', '--valid-for', '4h', '--', 'ls'], long);
    const text = long.out.stdout.join('\n');
    assert.match(text, /refused: spec.validFor: AccessPolicy shop\/production allows at most 2h, requested 4h/);
    assert.match(text, /break-glass: not available to you: spec.validFor: break-glass .* allows at most 1h/);
  });

  it('says so without policies', async () => {
    const rt = fakeRuntime(new FakeCluster({ pods: [web0] }));
    await runCli(['policy', 'web-0'], rt);
    const text = rt.out.stdout.join('\n');
    assert.match(text, /No AccessPolicy in namespace shop: one approval/);
    assert.match(text, /break-glass: no policy here allows it/);
  });
});

describe('kubectl request policy without read access to policies', () => {
  it('says so instead of showing the namespace as without policies', async () => {
    const rt = fakeRuntime(new FakeCluster({ pods: [web0], canI: [false] }));
    assert.equal(await runCli(['policy', 'web-0'], rt), 3);
    assert.match(rt.out.stderr.join('\n'), /you may not read the AccessPolicies of namespace shop/);
  });
});
