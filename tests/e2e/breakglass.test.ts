// Break-glass and its after-the-fact review against a real kube-apiserver and the real `serve`
// (issue 18), driven through the plugin as users would: carol (group approvers, the policy's
// break-glass group) grants her own request with a reason and runs the exec, audited as
// audit-break-glass; without a reason, or as dave (no such group), it is refused; `kubectl request
// list --needs-review` lists it until dave reviews it, and carol cannot review her own;
// `kubectl request policy` explains the namespace to both.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startControlPlane, type ControlPlane, type User } from '../controlplane/cluster.ts';
import { API_VERSION, accessRequest, create, kubectlExec, kubectlRequest, mustCreate, pod, waitFor } from './_kra.ts';

let cp: ControlPlane;
let dir: string;
const NS = 'team-a';

const production = {
  apiVersion: API_VERSION,
  kind: 'AccessPolicy',
  metadata: { name: 'production', namespace: NS },
  spec: { requiredApprovals: 2, breakGlass: { groups: ['approvers'], maxValidFor: '30m' } },
};

const binding = (name: string, role: string, subject: { kind: 'User' | 'Group'; name: string }) => ({
  apiVersion: 'rbac.authorization.k8s.io/v1',
  kind: 'RoleBinding',
  metadata: { name, namespace: NS },
  roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
  subjects: [{ apiGroup: 'rbac.authorization.k8s.io', ...subject }],
});

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kra-breakglass-'));
  cp = await startControlPlane({
    dir,
    log: (line) => console.error(`# ${line}`),
    webhook: true,
    developersCanExec: true,
    kwok: false,
  });
  await cp.apply([
    pod('web', NS),
    // The break-glass group requests, and holds its own exec RBAC (no RoleBinding is made for
    // break-glass); dave requests and approves in team-a, but is in no break-glass group.
    binding('approvers-request', 'kube-request-access:developer', { kind: 'Group', name: 'approvers' }),
    binding('approvers-exec', 'kube-request-access:developer-exec', { kind: 'Group', name: 'approvers' }),
    binding('dave-request', 'kube-request-access:developer', { kind: 'User', name: 'dave' }),
    binding('dave-approves', 'kube-request-access:approver', { kind: 'User', name: 'dave' }),
    // The shipped developer role reads policies (kubectl request policy); the test cluster's roles do not.
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'kra-test:policy-reader' },
      rules: [
        { apiGroups: ['kube-request-access.io'], resources: ['accesspolicies'], verbs: ['get', 'list', 'watch'] },
      ],
    },
    binding('approvers-read-policies', 'kra-test:policy-reader', { kind: 'Group', name: 'approvers' }),
    binding('dave-reads-policies', 'kra-test:policy-reader', { kind: 'User', name: 'dave' }),
    production,
  ]);
  // The policy reaches the webhook's cache through its watch: wait until a dry-run break-glass
  // grant of a probe request passes (nothing of a dry run is kept or consumed).
  await mustCreate(cp, 'carol', accessRequest({ name: 'probe', namespace: NS, user: 'carol', pod: 'web' }));
  await waitFor(
    'the production policy in the webhook cache',
    async () =>
      (await create(cp, 'carol', glassGrant('probe', 'probe-grant', 'probe'), ['--dry-run=server'])).code === 0,
    30_000,
    250,
  );
});

/** carol's break-glass grant of her own request `grantFor`, as a raw object (any client may write one). */
function glassGrant(grantFor: string, name: string, reason?: string) {
  return {
    apiVersion: API_VERSION,
    kind: 'AccessGrant',
    metadata: { name, namespace: NS },
    spec: { grantFor, grantedBy: { username: 'carol' }, breakGlass: true, ...(reason ? { reason } : {}) },
    status: 'granted',
  };
}

after(async () => {
  await cp?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const exec = (user: User, command: string[]) =>
  kubectlExec(cp, user, { namespace: NS, pod: 'web', container: 'app', command, spdy: true });

function auditLines(): { type?: string; phase?: string; policy?: string; name?: string; user?: string }[] {
  return readFileSync(cp.logs.webhook, 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('{') && line.includes('"log":"audit"'))
    .map((line) => JSON.parse(line));
}

let glassName = '';

describe('break-glass', () => {
  it('kubectl request policy explains the namespace: 2 approvals, break-glass for carol only', async () => {
    const carol = await kubectlRequest(cp, 'carol', ['policy', 'web', '-n', NS, '--', 'ls']);
    assert.equal(carol.code, 0, carol.stderr);
    const explained = `${carol.stdout}\n${carol.stderr}`;
    assert.match(carol.stdout, /AccessPolicies/, explained);
    assert.match(carol.stdout, /AccessPolicies of namespace team-a: production/);
    assert.match(carol.stdout, /approvals: +2 distinct approvers, whoever RBAC allows/);
    assert.match(carol.stdout, /break-glass: +groups approvers, for at most 30m \(AccessPolicy team-a\/production\)/);
    assert.match(carol.stdout, /needs 2 approvals \(never your own\)/);
    assert.match(carol.stdout, /break-glass: available to you \(carol\) under AccessPolicy team-a\/production/);
    const dave = await kubectlRequest(cp, 'dave', ['policy', 'web', '-n', NS, '--valid-for', '1h', '--', 'ls']);
    assert.match(dave.stdout, /break-glass: not available to you: .*dave is in none of them/, dave.stderr);
    // alice may not read policies in the test cluster: told so, not shown "no policy".
    const alice = await kubectlRequest(cp, 'alice', ['policy', 'web', '-n', NS, '--', 'ls']);
    assert.equal(alice.code, 3, alice.stdout);
    assert.match(alice.stderr, /you may not read the AccessPolicies of namespace team-a/);
  });

  it('refuses a break-glass grant without a reason (the plugin, then the webhook itself)', async () => {
    const cli = await kubectlRequest(cp, 'carol', ['exec', '-n', NS, 'web', '-c', 'app', '--break-glass', '--', 'id']);
    assert.equal(cli.code, 2, cli.stderr);
    assert.match(cli.stderr, /--break-glass needs --reason/);

    await mustCreate(cp, 'carol', accessRequest({ name: 'no-reason', namespace: NS, user: 'carol', pod: 'web' }));
    const grant = await create(cp, 'carol', glassGrant('no-reason', 'no-reason-grant'));
    assert.notEqual(grant.code, 0);
    assert.match(grant.stderr, /spec.reason: a break-glass grant needs a reason/);
  });

  it('refuses a user in no break-glass group, even one RBAC lets create grants', async () => {
    await mustCreate(cp, 'dave', accessRequest({ name: 'dave-req', namespace: NS, user: 'dave', pod: 'web' }));
    const result = await kubectlRequest(cp, 'dave', [
      'grant',
      '-n',
      NS,
      'dave-req',
      '--break-glass',
      '--reason',
      'x',
      '--yes',
    ]);
    assert.notEqual(result.code, 0);
    assert.match(
      result.stderr,
      /break-glass in namespace team-a is for members of approvers .*dave is in none of them/,
    );
  });

  it('a member grants her own request with a reason; the exec is allowed and audited as audit-break-glass', async () => {
    const result = await kubectlRequest(cp, 'carol', [
      'exec',
      '-n',
      NS,
      'web',
      '-c',
      'app',
      '--valid-for',
      '10m',
      '--break-glass',
      '--reason',
      'INC-7: checkout is down',
      '--',
      'ls',
      '/',
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /granted by break-glass; run now:/);
    assert.match(result.stderr, /break-glass: you granted .* yourself/);
    glassName = /accessrequest\/(\S+) created/.exec(result.stdout)?.[1] ?? '';
    assert.ok(glassName, result.stdout);

    await waitFor(
      'the break-glass exec',
      async () => (await exec('carol', ['ls', '/'])).outcome === 'allowed',
      20_000,
      250,
    );
    const events = auditLines().filter((line) => line.type === 'audit-break-glass' && line.name === glassName);
    assert.deepEqual(
      [...new Set(events.map((event) => event.phase))].sort(),
      ['granted', 'used'],
      JSON.stringify(events),
    );
    assert.ok(events.every((event) => event.policy === 'team-a/production'));
    // No RoleBinding for break-glass: only the webhook sees groups.
    const bindings = await cp.kubectl('admin', ['get', 'rolebindings', '-n', NS, '-o', 'name']);
    assert.doesNotMatch(bindings.stdout, new RegExp(`kube-request-access\\.${glassName}\\b`));
    const described = await kubectlRequest(cp, 'carol', ['describe', '-n', NS, glassName]);
    assert.match(described.stdout, /break-glass: by carol, .*INC-7: checkout is down/);
    assert.match(described.stdout, /reviewed: +not yet/);
  });

  it('--needs-review lists it until another approver reviews it; the requester cannot review her own', async () => {
    // dave may list only in team-a: the plugin falls back to the current namespace.
    const listed = await kubectlRequest(cp, 'dave', ['list', '--needs-review', '-n', NS]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`${glassName} .*\\[break-glass, needs review\\]`));
    const everywhere = await kubectlRequest(cp, 'carol', ['list', '--needs-review']);
    assert.match(everywhere.stdout, new RegExp(`team-a +${glassName}`));

    const own = await kubectlRequest(cp, 'carol', ['review', '-n', NS, glassName]);
    assert.equal(own.code, 3, own.stderr);
    assert.match(own.stderr, /you cannot review your own break-glass request/);
    // The webhook refuses it too, whatever client writes the review.
    const raw = await create(cp, 'carol', {
      apiVersion: API_VERSION,
      kind: 'AccessGrant',
      metadata: { name: `${glassName}-self-review`, namespace: NS },
      spec: { grantFor: glassName, grantedBy: { username: 'carol' } },
      status: 'reviewed',
    });
    assert.notEqual(raw.code, 0);
    assert.match(raw.stderr, /you cannot review your own break-glass AccessRequest/);

    // Nor can she take it off the list by withdrawing it before the review.
    const cancel = await kubectlRequest(cp, 'carol', ['cancel', '-n', NS, glassName]);
    assert.notEqual(cancel.code, 0, cancel.stdout);
    assert.match(cancel.stderr, /nobody reviewed it yet, so you cannot delete it or its grant/);

    const reviewed = await kubectlRequest(cp, 'dave', ['review', '-n', NS, glassName, '--reason', 'checked INC-7']);
    assert.equal(reviewed.code, 0, reviewed.stderr);
    assert.match(reviewed.stdout, /reviewed .*by dave/);
    await waitFor(
      'the review in the listing',
      async () => !(await kubectlRequest(cp, 'dave', ['list', '--needs-review', '-n', NS])).stdout.includes(glassName),
      10_000,
      250,
    );
    assert.ok(auditLines().some((line) => line.type === 'audit-reviewed' && line.name === glassName));
    const again = await kubectlRequest(cp, 'dave', ['review', '-n', NS, glassName]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already reviewed by dave/);
  });
});
