import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  authenticatedName,
  desiredRoleBindings,
  planRoleBindings,
  roleBindingName,
  type ReconcileConfig,
} from '../../functions/reconcile/index.ts';
import { at, grant, request } from './kubernetes/_objects.ts';

const config: ReconcileConfig = {
  grantedRoleName: 'kube-request-access-granted-exec',
  grantedRoleKind: 'ClusterRole',
  usernamePrefix: '',
  ungatedNamespaces: ['kube-system'],
};

describe('desiredRoleBindings', () => {
  it('never binds in a namespace the exec webhook does not gate', () => {
    const { bindings } = desiredRoleBindings({
      requests: [request('r1', { namespace: 'kube-system' }), request('r2', { namespace: 'team-a' })],
      grants: [grant('g1', 'r1', { namespace: 'kube-system' }), grant('g2', 'r2', { namespace: 'team-a' })],
      now: at('2026-01-01T10:02:00Z'),
      config,
    });
    assert.deepEqual(
      bindings.map((b) => b.metadata.namespace),
      ['team-a'],
    );
  });

  it('binds nothing for a grant that pins no request uid, or another one', () => {
    const { bindings } = desiredRoleBindings({
      requests: [request('r1'), request('r2', { uid: 'uid-re-created' })],
      grants: [{ ...grant('g1', 'r1'), spec: { grantFor: 'r1', grantedBy: { username: 'carol' } } }, grant('g2', 'r2')],
      now: at('2026-01-01T10:02:00Z'),
      config,
    });
    assert.deepEqual(bindings, []);
  });

  it('binds the granted role to the requester while a one-shot grant stands', () => {
    const { bindings, nextChangeAt } = desiredRoleBindings({
      requests: [request('r1')],
      grants: [grant('g1', 'r1')],
      now: at('2026-01-01T10:02:00Z'),
      config,
    });
    assert.equal(bindings.length, 1);
    const [b] = bindings;
    assert.equal(b!.metadata.namespace, 'default');
    assert.equal(b!.metadata.name, 'kube-request-access.r1');
    assert.deepEqual(b!.subjects, [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'alice' }]);
    assert.deepEqual(b!.roleRef, {
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'ClusterRole',
      name: 'kube-request-access-granted-exec',
    });
    assert.equal(b!.metadata.ownerReferences[0]!.uid, 'uid-default-r1');
    assert.equal(b!.metadata.ownerReferences[0]!.kind, 'AccessRequest');
    assert.equal(b!.metadata.labels['app.kubernetes.io/managed-by'], 'kube-request-access');
    assert.equal(nextChangeAt, undefined);
  });

  it('creates no binding for a denied grant', () => {
    const { bindings } = desiredRoleBindings({
      requests: [request('r1')],
      grants: [grant('g1', 'r1', { status: 'denied' })],
      now: at('2026-01-01T10:02:00Z'),
      config,
    });
    assert.deepEqual(bindings, []);
  });

  it('creates no binding for a pending request or without a granted role', () => {
    assert.deepEqual(
      desiredRoleBindings({ requests: [request('r1')], grants: [], now: at('2026-01-01T10:02:00Z'), config }).bindings,
      [],
    );
    const noRole = { ...config, grantedRoleName: undefined };
    assert.deepEqual(
      desiredRoleBindings({
        requests: [request('r1')],
        grants: [grant('g1', 'r1')],
        now: at('2026-01-01T10:02:00Z'),
        config: noRole,
      }).bindings,
      [],
    );
  });

  it('keeps a time-bound binding until grant creation + validFor and says when it changes', () => {
    const input = { requests: [request('r1', { validFor: '30m' })], grants: [grant('g1', 'r1')], config };
    const before = desiredRoleBindings({ ...input, now: at('2026-01-01T10:30:59Z') });
    assert.equal(before.bindings.length, 1);
    assert.equal(before.nextChangeAt?.toISOString(), '2026-01-01T10:31:00.000Z');
    assert.equal(
      before.bindings[0]!.metadata.annotations['kube-request-access.io/expires-at'],
      '2026-01-01T10:31:00.000Z',
    );
    assert.deepEqual(desiredRoleBindings({ ...input, now: at('2026-01-01T10:31:00Z') }).bindings, []);
  });

  it('ignores a grant by the requester (created while the webhook was bypassed)', () => {
    const { bindings } = desiredRoleBindings({
      requests: [request('r1')],
      grants: [grant('g1', 'r1', { by: 'alice' })],
      now: at('2026-01-01T10:02:00Z'),
      config,
    });
    assert.deepEqual(bindings, []);
  });

  it('ignores a grant for another uid of a re-created request', () => {
    const { bindings } = desiredRoleBindings({
      requests: [request('r1', { uid: 'new' })],
      grants: [grant('g1', 'r1', { forUID: 'old' })],
      now: at('2026-01-01T10:02:00Z'),
      config,
    });
    assert.deepEqual(bindings, []);
  });

  it('ignores grants from another namespace', () => {
    const { bindings } = desiredRoleBindings({
      requests: [request('r1', { namespace: 'a' })],
      grants: [grant('g1', 'r1', { namespace: 'b' })],
      now: at('2026-01-01T10:02:00Z'),
      config,
    });
    assert.deepEqual(bindings, []);
  });

  it('binds the authenticated name: the username prefix is added when the request omits it', () => {
    const withPrefix = { ...config, usernamePrefix: 'oidc:' };
    const bound = (user: string) =>
      desiredRoleBindings({
        requests: [request('r1', { user })],
        grants: [grant('g1', 'r1', { by: 'oidc:carol' })],
        now: at('2026-01-01T10:02:00Z'),
        config: withPrefix,
      }).bindings[0]!.subjects[0]!.name;
    assert.equal(bound('alice'), 'oidc:alice');
    assert.equal(bound('oidc:alice'), 'oidc:alice');
    assert.equal(authenticatedName('x', ''), 'x');
  });

  it('supports a namespaced Role as the granted role', () => {
    const { bindings } = desiredRoleBindings({
      requests: [request('r1')],
      grants: [grant('g1', 'r1')],
      now: at('2026-01-01T10:02:00Z'),
      config: { ...config, grantedRoleKind: 'Role' },
    });
    assert.equal(bindings[0]!.roleRef.kind, 'Role');
  });
});

describe('roleBindingName', () => {
  it('stays within 253 characters and distinct for long names', () => {
    const a = roleBindingName('a'.repeat(253));
    const b = roleBindingName(`${'a'.repeat(252)}b`);
    assert.ok(a.length <= 253);
    assert.notEqual(a, b);
  });
});

describe('planRoleBindings', () => {
  const desired = desiredRoleBindings({
    requests: [request('r1')],
    grants: [grant('g1', 'r1')],
    now: at('2026-01-01T10:02:00Z'),
    config,
  }).bindings;

  it('creates what is missing (also after someone deleted it)', () => {
    const plan = planRoleBindings(desired, []);
    assert.equal(plan.create.length, 1);
    assert.deepEqual(plan.delete, []);
  });

  it('does nothing when the cluster matches', () => {
    const existing = desired.map((b) => ({ ...b, metadata: { ...b.metadata, resourceVersion: '5' } }));
    assert.deepEqual(planRoleBindings(desired, existing), { create: [], update: [], delete: [] });
  });

  it('deletes ours that are no longer desired', () => {
    const plan = planRoleBindings([], [{ metadata: { name: 'kube-request-access.old', namespace: 'x' } }]);
    assert.deepEqual(plan.delete, [{ namespace: 'x', name: 'kube-request-access.old' }]);
  });

  it('replaces a binding whose subject was edited, and re-creates one with another roleRef', () => {
    const edited = {
      ...desired[0]!,
      metadata: { ...desired[0]!.metadata, resourceVersion: '7' },
      subjects: [{ kind: 'User' as const, apiGroup: 'rbac.authorization.k8s.io', name: 'mallory' }],
    };
    const plan = planRoleBindings(desired, [edited]);
    assert.equal(plan.update.length, 1);
    assert.equal(plan.update[0]!.metadata.resourceVersion, '7');
    const otherRole = {
      ...desired[0]!,
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
    };
    const plan2 = planRoleBindings(desired, [otherRole]);
    assert.equal(plan2.delete.length, 1);
    assert.equal(plan2.create.length, 1);
  });
});
