// adapters/kubernetes/apply.ts with fake writers: the same apply logic runs over client-node
// (Node backend) and over fetch (edge); which answers are a lost race, what is given back.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KubernetesApiError } from '../../adapters/errors.ts';
import {
  applyDeletions,
  applyRoleBindingPlan,
  statusEffects,
  type ObjectDeleter,
  type RoleBindingWriter,
} from '../../adapters/kubernetes/apply.ts';
import { fetchWrites, type KubernetesClient } from '../../adapters/edge/kubernetes.ts';
import { silentLogger } from '../../adapters/log.ts';
import { EffectConflict } from '../../adapters/ports.ts';
import type { CleanupEvent } from '../../functions/cleanup/index.ts';
import type { RoleBindingPlan } from '../../functions/reconcile/index.ts';
import { NOW } from '../support/builders.ts';

/** An API error as either client reports it: client-node's ApiException has `code`, fetch a KubernetesApiError. */
const apiError = (status: number, client: 'client-node' | 'fetch') =>
  client === 'fetch'
    ? new KubernetesApiError(status, '', `HTTP ${status}`)
    : Object.assign(new Error(`HTTP ${status}`), { code: status });

const consume = {
  type: 'consume-request' as const,
  namespace: 'team-a',
  name: 'r1',
  uid: 'uid-1',
  resourceVersion: '7',
};

describe('statusEffects', () => {
  it('marks a one-shot used with the uid and resourceVersion read, and answers the release on the new resourceVersion', async () => {
    const bodies: unknown[] = [];
    const written: unknown[] = [];
    const effects = statusEffects({
      writer: {
        replaceRequestStatus: async (_ns, _name, body) => (bodies.push(body), { metadata: { resourceVersion: '8' } }),
      },
      logger: silentLogger,
      clock: () => NOW,
      onWritten: (object) => written.push(object),
    });
    const inverse = await effects.run(consume);
    assert.deepEqual(bodies[0], {
      apiVersion: 'kube-request-access.io/v1',
      kind: 'AccessRequest',
      metadata: { name: 'r1', namespace: 'team-a', uid: 'uid-1', resourceVersion: '7' },
      status: { usedAt: NOW.toISOString() },
    });
    assert.deepEqual(inverse, { ...consume, type: 'release-request', resourceVersion: '8' });
    assert.equal(written.length, 1, 'the written object goes to the cache');
    assert.equal(await effects.run(inverse!), undefined, 'a release has no inverse');
    assert.deepEqual((bodies[1] as { status: unknown }).status, {});
  });

  for (const client of ['client-node', 'fetch'] as const) {
    it(`reads 409 and 404 from ${client} as a lost race, anything else as a failure`, async () => {
      let status = 409;
      const effects = statusEffects({
        writer: {
          replaceRequestStatus: async () => {
            throw apiError(status, client);
          },
        },
        logger: silentLogger,
      });
      for (status of [409, 404]) await assert.rejects(effects.run(consume), EffectConflict);
      status = 500;
      await assert.rejects(effects.run(consume), (error) => !(error instanceof EffectConflict));
      status = 409;
      await assert.rejects(
        effects.run({ ...consume, type: 'release-request' }),
        (error) => !(error instanceof EffectConflict),
        'a release that fails is no race',
      );
    });
  }
});

const due = (name: string, kind: CleanupEvent['kind'] = 'AccessRequest') =>
  ({
    kind,
    namespace: 'team-a',
    name,
    uid: `uid-${name}`,
    reason: 'expired',
    message: 'expired',
  }) as unknown as CleanupEvent;

describe('applyDeletions', () => {
  it('deletes each with its uid; gone or replaced is no failure, other errors are counted and the pass goes on', async () => {
    const calls: string[] = [];
    const answers: Record<string, number | undefined> = { gone: 404, replaced: 409, broken: 500 };
    const deleter: ObjectDeleter = {
      async deleteObject(kind, namespace, name, uid) {
        calls.push(`${kind} ${namespace}/${name} ${uid}`);
        if (answers[name]) throw apiError(answers[name]!, 'client-node');
      },
    };
    const result = await applyDeletions(
      deleter,
      [due('a'), due('gone'), due('replaced'), due('broken'), due('g', 'AccessGrant')],
      silentLogger,
    );
    assert.deepEqual(
      result.deleted.map((event) => event.name),
      ['a', 'g'],
    );
    assert.equal(result.failed, 1);
    assert.equal(calls.length, 5);
    assert.equal(calls[4], 'AccessGrant team-a/g uid-g');
  });
});

describe('applyRoleBindingPlan', () => {
  const binding = (name: string) =>
    ({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name, namespace: 'team-a', labels: {}, annotations: {}, ownerReferences: [{ name: 'r1' }] },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'exec' },
      subjects: [{ kind: 'User', name: 'alice', apiGroup: 'rbac.authorization.k8s.io' }],
    }) as unknown as RoleBindingPlan['create'][number];

  it('deletes first, then creates, then restores; races with another replica are no failures', async () => {
    const calls: string[] = [];
    const failing = new Map<string, number>([
      ['create dup', 409],
      ['update gone', 404],
      ['delete gone', 404],
      ['create bad', 403],
    ]);
    const step = async (what: string) => {
      calls.push(what);
      const status = failing.get(what);
      if (status) throw apiError(status, 'fetch');
    };
    const writer: RoleBindingWriter = {
      createRoleBinding: (b) => step(`create ${b.metadata.name}`),
      replaceRoleBinding: (b) => step(`update ${b.metadata.name}`),
      deleteRoleBinding: (_ns, name) => step(`delete ${name}`),
    };
    const removed: string[] = [];
    const failures = await applyRoleBindingPlan(
      writer,
      {
        delete: [
          { namespace: 'team-a', name: 'old' },
          { namespace: 'team-a', name: 'gone' },
        ],
        create: [binding('new'), binding('dup'), binding('bad')],
        update: [binding('edited'), binding('gone')],
      },
      silentLogger,
      (_ns, name) => removed.push(name),
    );
    assert.deepEqual(calls, [
      'delete old',
      'delete gone',
      'create new',
      'create dup',
      'create bad',
      'update edited',
      'update gone',
    ]);
    assert.equal(failures, 1);
    assert.deepEqual(removed, ['old']);
  });
});

describe('fetchWrites (the edge client implementing the write interfaces)', () => {
  it('puts the status subresource, deletes with a uid precondition, writes RoleBindings in their namespace', async () => {
    const calls: { method: string; path: string; body: unknown }[] = [];
    const client: KubernetesClient = {
      get: async () => ({}),
      post: async (path, body) => void calls.push({ method: 'POST', path, body }),
      put: async (path, body) => (calls.push({ method: 'PUT', path, body }), {}),
      delete: async (path, body) => void calls.push({ method: 'DELETE', path, body }),
    };
    const writes = fetchWrites(client);
    await writes.replaceRequestStatus('team-a', 'r1', {
      apiVersion: 'kube-request-access.io/v1',
      kind: 'AccessRequest',
      metadata: { name: 'r1', namespace: 'team-a', uid: 'u', resourceVersion: '1' },
      status: {},
    });
    await writes.deleteObject('AccessGrant', 'team-a', 'g1', 'uid-g1');
    await writes.deleteRoleBinding('team-a', 'rb');
    assert.deepEqual(
      calls.map((call) => `${call.method} ${call.path}`),
      [
        'PUT /apis/kube-request-access.io/v1/namespaces/team-a/accessrequests/r1/status',
        'DELETE /apis/kube-request-access.io/v1/namespaces/team-a/accessgrants/g1',
        'DELETE /apis/rbac.authorization.k8s.io/v1/namespaces/team-a/rolebindings/rb',
      ],
    );
    assert.deepEqual((calls[1]!.body as { preconditions: unknown }).preconditions, { uid: 'uid-g1' });
  });
});
