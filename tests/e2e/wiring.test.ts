// Kubernetes wiring against a real kube-apiserver, in the mode where developers hold no standing
// exec rights: the webhook binds --granted-role-name to the requester while a persisted grant
// lasts. Checks the RoleBinding reconciler and the cleanup loop of adapters/kubernetes.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { GRANTED_ROLE, startControlPlane, type ControlPlane } from '../controlplane/cluster.ts';
import {
  accessGrant,
  accessRequest,
  create,
  exists,
  isUsed,
  getJson,
  kubectlExec,
  mustCreate,
  pod,
  roleBindings,
  waitFor,
} from './_kra.ts';

let cp: ControlPlane;
let dir: string;

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kra-wiring-'));
  cp = await startControlPlane({
    dir,
    log: (line) => console.error(`# ${line}`),
    webhook: ['--cleanup-interval', '1s', '--delete-after', '10m', '--retention', '1s'],
  });
  await cp.apply([pod('web', 'team-a'), pod('web', 'team-b')]);
});

after(async () => {
  await cp?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('RoleBinding reconciler (developers hold no standing exec)', () => {
  it('gives nothing before a grant: RBAC refuses the exec', async () => {
    const result = await kubectlExec(cp, 'alice', { namespace: 'team-a', pod: 'web', container: 'app', spdy: true });
    assert.equal(result.outcome, 'forbidden', result.stderr);
  });

  it('binds the granted role to the requester within a second of a grant, and unbinds once the one-shot is used', async () => {
    await mustCreate(cp, 'alice', accessRequest({ name: 'once', namespace: 'team-a', user: 'alice', pod: 'web' }));
    const uid = (await getJson<{ metadata: { uid: string } }>(cp, ['accessrequest', '-n', 'team-a', 'once'])).metadata
      .uid;
    const started = Date.now();
    await mustCreate(cp, 'carol', accessGrant({ name: 'once', namespace: 'team-a', grantFor: 'once', by: 'carol' }));
    const [binding] = await waitFor(
      'the RoleBinding',
      async () => {
        const list = await roleBindings(cp, 'team-a');
        return list.length ? list : undefined;
      },
      5_000,
      20,
    );
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 1_000, `RoleBinding after ${elapsed} ms`);
    const full = await getJson<{
      subjects: { kind: string; name: string }[];
      roleRef: { kind: string; name: string };
      metadata: { ownerReferences: { kind: string; name: string; uid: string }[]; labels: Record<string, string> };
    }>(cp, ['rolebinding', '-n', 'team-a', binding!.metadata.name]);
    assert.deepEqual(
      full.subjects.map((s) => `${s.kind}/${s.name}`),
      ['User/alice'],
    );
    assert.equal(full.roleRef.name, GRANTED_ROLE);
    assert.equal(full.roleRef.kind, 'ClusterRole');
    assert.deepEqual(
      full.metadata.ownerReferences.map((o) => `${o.kind}/${o.name}/${o.uid}`),
      [`AccessRequest/once/${uid}`],
    );
    assert.equal(full.metadata.labels['app.kubernetes.io/managed-by'], 'kube-request-access');

    const first = await kubectlExec(cp, 'alice', { namespace: 'team-a', pod: 'web', container: 'app', spdy: true });
    assert.equal(first.outcome, 'allowed', first.stderr);
    await waitFor(
      'the RoleBinding to go with the consumed request',
      async () => (await roleBindings(cp, 'team-a')).length === 0,
      5_000,
    );
    assert.equal(await isUsed(cp, 'team-a', 'once'), true);
    const second = await kubectlExec(cp, 'alice', { namespace: 'team-a', pod: 'web', container: 'app', spdy: true });
    assert.equal(second.outcome, 'forbidden', second.stderr);
  });

  it('creates no RoleBinding for a denied grant', async () => {
    await mustCreate(cp, 'alice', accessRequest({ name: 'refused', namespace: 'team-a', user: 'alice', pod: 'web' }));
    await mustCreate(
      cp,
      'carol',
      accessGrant({ name: 'refused', namespace: 'team-a', grantFor: 'refused', by: 'carol', status: 'denied' }),
    );
    await sleep(1_500);
    assert.deepEqual(await roleBindings(cp, 'team-a'), []);
    const result = await kubectlExec(cp, 'alice', { namespace: 'team-a', pod: 'web', container: 'app', spdy: true });
    assert.equal(result.outcome, 'forbidden', result.stderr);
  });

  it('creates no RoleBinding for a --dry-run=server grant, and stores nothing', async () => {
    await mustCreate(cp, 'alice', accessRequest({ name: 'dry', namespace: 'team-a', user: 'alice', pod: 'web' }));
    const result = await create(
      cp,
      'carol',
      accessGrant({ name: 'dry', namespace: 'team-a', grantFor: 'dry', by: 'carol' }),
      ['--dry-run=server'],
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /server dry run/);
    await sleep(1_500);
    assert.deepEqual(await roleBindings(cp, 'team-a'), []);
    assert.equal(await exists(cp, 'accessgrant', 'team-a', 'dry'), false);
    assert.equal(await exists(cp, 'accessrequest', 'team-a', 'dry'), true);
  });

  it('creates nothing for a --dry-run=server AccessRequest', async () => {
    const result = await create(
      cp,
      'alice',
      accessRequest({ name: 'dry-request', namespace: 'team-a', user: 'alice', pod: 'web' }),
      ['--dry-run=server'],
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal(await exists(cp, 'accessrequest', 'team-a', 'dry-request'), false);
  });

  it('re-creates a RoleBinding someone deleted while the grant lasts', async () => {
    await mustCreate(
      cp,
      'bob',
      accessRequest({ name: 'window', namespace: 'team-b', user: 'bob', pod: 'web', validFor: '1h' }),
    );
    await mustCreate(
      cp,
      'carol',
      accessGrant({ name: 'window', namespace: 'team-b', grantFor: 'window', by: 'carol' }),
    );
    const [binding] = await waitFor('the RoleBinding', async () => {
      const list = await roleBindings(cp, 'team-b');
      return list.length ? list : undefined;
    });
    const deleted = await cp.kubectl('admin', ['delete', 'rolebinding', '-n', 'team-b', binding!.metadata.name]);
    assert.equal(deleted.code, 0, deleted.stderr);
    await waitFor('the RoleBinding to come back', async () => (await roleBindings(cp, 'team-b')).length === 1, 5_000);
    const result = await kubectlExec(cp, 'bob', { namespace: 'team-b', pod: 'web', container: 'app', spdy: true });
    assert.equal(result.outcome, 'allowed', result.stderr);
    // Deleting the request takes the binding with it (no garbage collector here: the reconciler does it).
    await cp.kubectl('admin', ['delete', 'accessrequest', '-n', 'team-b', 'window']);
    await waitFor(
      'the RoleBinding to go with its request',
      async () => (await roleBindings(cp, 'team-b')).length === 0,
      5_000,
    );
  });

  it('removes the RoleBinding when a time-bound window ends, and the exec is refused again', async () => {
    await mustCreate(
      cp,
      'alice',
      accessRequest({ name: 'short', namespace: 'team-a', user: 'alice', pod: 'web', validFor: '4s' }),
    );
    await mustCreate(cp, 'carol', accessGrant({ name: 'short', namespace: 'team-a', grantFor: 'short', by: 'carol' }));
    await waitFor('the RoleBinding', async () => (await roleBindings(cp, 'team-a')).length === 1);
    const during = await kubectlExec(cp, 'alice', { namespace: 'team-a', pod: 'web', container: 'app', spdy: true });
    assert.equal(during.outcome, 'allowed', during.stderr);
    const again = await kubectlExec(cp, 'alice', { namespace: 'team-a', pod: 'web', container: 'app', spdy: true });
    assert.equal(again.outcome, 'allowed', again.stderr);
    await waitFor(
      'the RoleBinding to expire',
      async () => (await roleBindings(cp, 'team-a')).length === 0,
      10_000,
      100,
    );
    const afterwards = await kubectlExec(cp, 'alice', {
      namespace: 'team-a',
      pod: 'web',
      container: 'app',
      spdy: true,
    });
    assert.equal(afterwards.outcome, 'forbidden', afterwards.stderr);
  });
});

describe('cleanup loop', () => {
  it('deletes expired time-bound requests and their grants in two namespaces once --retention passed', async () => {
    for (const [namespace, user] of [
      ['team-a', 'alice'],
      ['team-b', 'bob'],
    ] as const) {
      await mustCreate(cp, user, accessRequest({ name: 'expiring', namespace, user, pod: 'web', validFor: '2s' }));
      await mustCreate(cp, 'carol', accessGrant({ name: 'expiring', namespace, grantFor: 'expiring', by: 'carol' }));
    }
    assert.equal(await exists(cp, 'accessrequest', 'team-a', 'expiring'), true);
    await waitFor(
      'both expired requests and grants to be deleted',
      async () => {
        for (const namespace of ['team-a', 'team-b']) {
          if (await exists(cp, 'accessrequest', namespace, 'expiring')) return false;
          if (await exists(cp, 'accessgrant', namespace, 'expiring')) return false;
        }
        return true;
      },
      15_000,
      250,
    );
    // A pending request is younger than --delete-after and stays.
    assert.equal(await exists(cp, 'accessrequest', 'team-a', 'dry'), true);
  });
});
