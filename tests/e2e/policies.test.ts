// AccessPolicies against a real kube-apiserver and the real `serve` (issue 18): two approvals by
// two different approvers (one approver twice does not count), a denial after one approval, a
// pre-approved command allowed with no grant and audited with the policy's name, requests refused
// for a missing or malformed ticket, and an RBAC approver the policy does not name refused.
// Developers hold standing exec RBAC here, so every refusal is the webhook's own (with its message);
// the RoleBindings of the granted role show the reconciler reading the policies the same way.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startControlPlane, type ControlPlane, type User } from '../controlplane/cluster.ts';
import { API_VERSION, accessGrant, accessRequest, create, kubectlExec, mustCreate, pod, waitFor } from './_kra.ts';

let cp: ControlPlane;
let dir: string;

const production = {
  apiVersion: API_VERSION,
  kind: 'AccessPolicy',
  metadata: { name: 'production', namespace: 'team-a' },
  spec: {
    approvers: { users: ['carol', 'dave'] },
    requiredApprovals: 2,
    maxValidFor: '2h',
    requiredCustomKeys: [{ key: 'ticket', pattern: '^OPS-[0-9]+$', description: 'the incident ticket' }],
  },
};
const staging = {
  apiVersion: API_VERSION,
  kind: 'AccessPolicy',
  metadata: { name: 'staging', namespace: 'team-b' },
  spec: {
    approvers: { users: ['dave'] },
    preApproved: [{ command: ['cat', '/etc/hostname'], container: 'app' }],
  },
};

/** dave approves too (RBAC), in both namespaces: a RoleBinding to the approver ClusterRole. */
const daveApproves = (namespace: string) => ({
  apiVersion: 'rbac.authorization.k8s.io/v1',
  kind: 'RoleBinding',
  metadata: { name: 'dave-approves', namespace },
  roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'kube-request-access:approver' },
  subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'dave' }],
});

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kra-policies-'));
  cp = await startControlPlane({
    dir,
    log: (line) => console.error(`# ${line}`),
    webhook: true,
    developersCanExec: true,
  });
  await cp.apply([
    pod('web', 'team-a'),
    pod('web', 'team-b'),
    daveApproves('team-a'),
    daveApproves('team-b'),
    production,
    staging,
  ]);
  // The policies reach the webhook's cache through its watch: wait until a ticketless request is refused.
  await waitFor(
    'the production policy in the webhook cache',
    async () => {
      const result = await create(
        cp,
        'alice',
        { ...accessRequest({ name: 'probe', namespace: 'team-a', user: 'alice', pod: 'web' }) },
        ['--dry-run=server'],
      );
      return result.code !== 0 && /requires the custom key ticket/.test(result.stderr);
    },
    15_000,
    200,
  );
});

after(async () => {
  await cp?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const withTicket = (request: ReturnType<typeof accessRequest>, ticket?: string) =>
  ticket === undefined ? request : { ...request, spec: { ...request.spec, customKeys: { ticket } } };
const exec = (user: User, namespace: string, command: string[]) =>
  kubectlExec(cp, user, { namespace, pod: 'web', container: 'app', command, spdy: true });

describe('a production namespace: two approvers and a ticket', () => {
  it('refuses a request without the ticket, or with a malformed one, naming the policy', async () => {
    const missing = await create(
      cp,
      'alice',
      accessRequest({ name: 'no-ticket', namespace: 'team-a', user: 'alice', pod: 'web' }),
    );
    assert.notEqual(missing.code, 0);
    assert.match(
      missing.stderr,
      /AccessPolicy team-a\/production requires the custom key ticket \(the incident ticket\) matching \^OPS-\[0-9\]\+\$; add --key ticket=VALUE/,
    );
    const wrong = await create(
      cp,
      'alice',
      withTicket(accessRequest({ name: 'bad-ticket', namespace: 'team-a', user: 'alice', pod: 'web' }), 'JIRA-7'),
    );
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /to match \^OPS-\[0-9\]\+\$, got "JIRA-7"/);
    const long = await create(
      cp,
      'alice',
      withTicket(
        accessRequest({ name: 'long', namespace: 'team-a', user: 'alice', pod: 'web', validFor: '8h' }),
        'OPS-1',
      ),
    );
    assert.notEqual(long.code, 0);
    assert.match(long.stderr, /allows at most 2h, requested 8h/);
  });

  it('needs two different approvers: one approver twice does not count', async () => {
    await mustCreate(
      cp,
      'alice',
      withTicket(
        accessRequest({ name: 'two', namespace: 'team-a', user: 'alice', pod: 'web', validFor: '1h', command: ['ls'] }),
        'OPS-42',
      ),
    );
    await mustCreate(
      cp,
      'carol',
      accessGrant({ name: 'two-carol', namespace: 'team-a', grantFor: 'two', by: 'carol' }),
    );
    const once = await exec('alice', 'team-a', ['ls']);
    assert.equal(once.outcome, 'denied', once.stderr);
    assert.match(once.stderr, /AccessRequest two has 1 of 2 approvals \(by carol\); ask another approver/);

    const twice = await create(
      cp,
      'carol',
      accessGrant({ name: 'two-carol-again', namespace: 'team-a', grantFor: 'two', by: 'carol' }),
    );
    assert.notEqual(twice.code, 0);
    assert.match(twice.stderr, /you already granted AccessRequest "two" \(1 of 2 approvals\)/);

    // No RoleBinding of the granted role for one approval either.
    const pending = await cp.kubectl('admin', ['get', 'rolebindings', '-n', 'team-a', '-o', 'name']);
    assert.doesNotMatch(pending.stdout, /kube-request-access\.two\b/);

    await mustCreate(cp, 'dave', accessGrant({ name: 'two-dave', namespace: 'team-a', grantFor: 'two', by: 'dave' }));
    await waitFor(
      "alice's exec after the second approval",
      async () => (await exec('alice', 'team-a', ['ls'])).outcome === 'allowed',
      20_000,
      250,
    );
    await waitFor(
      'the RoleBinding naming both approvals',
      async () => {
        const binding = await cp.kubectl('admin', [
          'get',
          'rolebinding',
          '-n',
          'team-a',
          'kube-request-access.two',
          '-o',
          'jsonpath={.metadata.annotations.kube-request-access\\.io/access-grant}',
        ]);
        return binding.stdout === 'two-carol,two-dave';
      },
      20_000,
      250,
    );
  });

  it('a denial after one approval stands', async () => {
    await mustCreate(
      cp,
      'alice',
      withTicket(
        accessRequest({
          name: 'denied',
          namespace: 'team-a',
          user: 'alice',
          pod: 'web',
          validFor: '1h',
          command: ['id'],
        }),
        'OPS-43',
      ),
    );
    await mustCreate(
      cp,
      'carol',
      accessGrant({ name: 'denied-carol', namespace: 'team-a', grantFor: 'denied', by: 'carol' }),
    );
    await mustCreate(
      cp,
      'dave',
      accessGrant({ name: 'denied-dave', namespace: 'team-a', grantFor: 'denied', by: 'dave', status: 'denied' }),
    );
    const third = await create(
      cp,
      'admin',
      accessGrant({ name: 'denied-admin', namespace: 'team-a', grantFor: 'denied', by: 'admin' }),
    );
    assert.notEqual(third.code, 0, 'admin is no approver the policy names');
    const result = await exec('alice', 'team-a', ['id']);
    assert.equal(result.outcome, 'denied', result.stderr);
    assert.match(result.stderr, /AccessRequest denied was denied by dave/);
  });
});

describe('a staging namespace: pre-approved reads', () => {
  it('allows a pre-approved command with no grant, and audits it with the policy', async () => {
    await mustCreate(
      cp,
      'alice',
      accessRequest({
        name: 'hostname',
        namespace: 'team-b',
        user: 'alice',
        pod: 'web',
        validFor: '30m',
        command: ['cat', '/etc/hostname'],
      }),
    );
    await waitFor(
      'the pre-approved exec',
      async () => (await exec('alice', 'team-b', ['cat', '/etc/hostname'])).outcome === 'allowed',
      20_000,
      250,
    );
    const lines = readFileSync(cp.logs.webhook, 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('{') && line.includes('"log":"audit"'))
      .map(
        (line) =>
          JSON.parse(line) as {
            type?: string;
            data?: { isAllowed?: boolean; policy?: string; request?: { namespace?: string } };
          },
      );
    const allowed = lines.filter(
      (line) => line.type === 'audit-exec' && line.data?.isAllowed && line.data.request?.namespace === 'team-b',
    );
    assert.ok(allowed.length > 0, 'an allowed audit-exec in team-b');
    assert.ok(
      allowed.every((line) => line.data?.policy === 'staging'),
      JSON.stringify(allowed.map((line) => line.data?.policy)),
    );
    await waitFor(
      'the RoleBinding naming the policy',
      async () => {
        const binding = await cp.kubectl('admin', [
          'get',
          'rolebinding',
          '-n',
          'team-b',
          'kube-request-access.hostname',
          '-o',
          'jsonpath={.metadata.annotations.kube-request-access\\.io/access-policy}',
        ]);
        return binding.stdout === 'staging';
      },
      20_000,
      250,
    );
  });

  it('does not pre-approve another command in the same pod', async () => {
    await mustCreate(
      cp,
      'alice',
      accessRequest({
        name: 'shadow',
        namespace: 'team-b',
        user: 'alice',
        pod: 'web',
        validFor: '30m',
        command: ['cat', '/etc/shadow'],
      }),
    );
    const result = await exec('alice', 'team-b', ['cat', '/etc/shadow']);
    assert.equal(result.outcome, 'denied', result.stderr);
    assert.match(result.stderr, /AccessRequest shadow is not granted yet/);
  });

  it('refuses an approver RBAC allows but the policy does not name', async () => {
    const result = await create(
      cp,
      'carol',
      accessGrant({ name: 'shadow-carol', namespace: 'team-b', grantFor: 'shadow', by: 'carol' }),
    );
    assert.notEqual(result.code, 0);
    assert.match(
      result.stderr,
      /AccessPolicy team-b\/staging names the approvers .*user dave.*carol is not one of them/,
    );
    await mustCreate(
      cp,
      'dave',
      accessGrant({ name: 'shadow-dave', namespace: 'team-b', grantFor: 'shadow', by: 'dave' }),
    );
    await waitFor(
      "alice's exec granted by dave",
      async () => (await exec('alice', 'team-b', ['cat', '/etc/shadow'])).outcome === 'allowed',
      20_000,
      250,
    );
  });
});
