// Invariant 10: deleting an AccessRequest or AccessGrant changes who can do what, so it is
// reviewed. The requester withdraws their own request; approvers and admins revoke; the webhook
// and the kube controllers delete; a denial stands; everyone else is refused.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { grant } from '../../functions/grant/index.ts';
import { request } from '../../functions/request/index.ts';
import type { AccessGrant, AccessRequest } from '../../functions/schemas.ts';
import { accessGrant, accessRequest, context, lookupOf, objectReview, users } from '../support/builders.ts';

const SELF = 'system:serviceaccount:kube-request-access:kube-request-access';
const selfUser = { username: SELF, groups: ['system:serviceaccounts', 'system:authenticated'] };
const namespaceController = {
  username: 'system:serviceaccount:kube-system:namespace-controller',
  groups: ['system:serviceaccounts'],
};
const aliceRequest = accessRequest();
const grantedGrant = accessGrant();
const deniedGrant = accessGrant({ status: 'denied', reason: 'not in prod' });

const cases: Array<{
  name: string;
  object: AccessRequest | AccessGrant;
  user: { username: string; groups?: string[] };
  allowed: boolean;
  role?: string;
  message?: RegExp;
}> = [
  {
    name: 'lets the requester withdraw their own request',
    object: aliceRequest,
    user: users.alice,
    allowed: true,
    role: 'requester',
  },
  {
    name: "refuses a developer deleting another developer's request",
    object: aliceRequest,
    user: users.bob,
    allowed: false,
    message:
      /only withdraw your own AccessRequests, and alice-web-0 belongs to alice; an approver in namespace team-a or an admin can revoke it/,
  },
  {
    name: 'lets an approver withdraw a request',
    object: aliceRequest,
    user: users.carol,
    allowed: true,
    role: 'approver',
  },
  {
    name: 'lets an always-allowed admin delete a request',
    object: aliceRequest,
    user: users.admin,
    allowed: true,
    role: 'admin',
  },
  {
    name: 'lets the webhook itself delete a request (consume, cleanup)',
    object: aliceRequest,
    user: selfUser,
    allowed: true,
    role: 'webhook',
  },
  {
    name: 'lets the namespace controller delete a request',
    object: aliceRequest,
    user: namespaceController,
    allowed: true,
    role: 'cluster',
  },
  {
    name: 'lets an approver revoke a granted grant',
    object: grantedGrant,
    user: users.carol,
    allowed: true,
    role: 'approver',
  },
  {
    name: 'refuses the requester deleting the grant of their own request',
    object: grantedGrant,
    user: users.alice,
    allowed: false,
    message: /only approvers .* and admins can revoke AccessGrant/,
  },
  {
    name: 'refuses the requester deleting the denial of their own request',
    object: deniedGrant,
    user: users.alice,
    allowed: false,
    message: /a denial stands/,
  },
  {
    name: 'refuses even an approver removing a denial',
    object: deniedGrant,
    user: users.carol,
    allowed: false,
    message: /a denial stands: only an admin can remove it/,
  },
  { name: 'lets an admin remove a denial', object: deniedGrant, user: users.admin, allowed: true, role: 'admin' },
  { name: 'lets the webhook clean up a denial', object: deniedGrant, user: selfUser, allowed: true, role: 'webhook' },
];

describe('delete', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const concern = c.object.kind === 'AccessGrant' ? grant : request;
      const lookup = lookupOf([aliceRequest]);
      const decision = await concern(
        objectReview(c.object, { user: c.user, operation: 'DELETE' }),
        lookup,
        context({ selfUsernames: [SELF] }),
      );
      assert.equal(decision.allowed, c.allowed, decision.message);
      if (c.message) assert.match(decision.message, c.message);
      assert.deepEqual(decision.effects, []);
      if (c.allowed) {
        assert.equal(decision.audit.length, 1);
        const [event] = decision.audit;
        assert.equal(event!.type, 'audit-deleted');
        assert.equal(event!.type === 'audit-deleted' && event!.data.role, c.role);
      }
    });
  }

  it('asks the cluster whether the deleter may create AccessGrants in that namespace', async () => {
    const lookup = lookupOf([aliceRequest], []);
    const decision = await request(
      objectReview(aliceRequest, { user: users.bob, operation: 'DELETE' }),
      lookup,
      context(),
    );
    assert.equal(decision.allowed, false);
    assert.deepEqual(lookup.asked, [
      { verb: 'create', group: 'kube-request-access.io', resource: 'accessgrants', namespace: 'team-a' },
    ]);
  });

  it('does not ask the cluster for the requester, the webhook or an admin', async () => {
    for (const user of [users.alice, selfUser, users.admin]) {
      const lookup = lookupOf([aliceRequest]);
      await request(
        objectReview(aliceRequest, { user, operation: 'DELETE' }),
        lookup,
        context({ selfUsernames: [SELF] }),
      );
      assert.deepEqual(lookup.asked, [], user.username);
    }
  });

  it('treats a name that only looks like the webhook as anyone else', async () => {
    const impostor = { username: `${SELF}x`, groups: ['developers'] };
    const decision = await request(
      objectReview(aliceRequest, { user: impostor, operation: 'DELETE' }),
      lookupOf([aliceRequest]),
      context({ selfUsernames: [SELF] }),
    );
    assert.equal(decision.allowed, false);
  });

  it('fails closed when the SubjectAccessReview cannot be made', async () => {
    const lookup = {
      ...lookupOf([aliceRequest]),
      isAuthorized: async () => {
        throw new Error('API server down');
      },
    };
    await assert.rejects(
      request(objectReview(aliceRequest, { user: users.bob, operation: 'DELETE' }), lookup, context()),
      /API server down/,
    );
  });
});

describe('delete: a malformed object', () => {
  it('is audited too when an admin removes it, and its audit line says so', async () => {
    const { auditSummary } = await import('../../adapters/audit/log.ts');
    const broken = {
      apiVersion: 'kube-request-access.io/v1',
      kind: 'AccessRequest',
      metadata: { name: 'broken', namespace: 'team-a' },
      spec: {},
    };
    const decision = await request(
      objectReview(broken, { user: users.admin, operation: 'DELETE' }),
      lookupOf([]),
      context(),
    );
    assert.equal(decision.allowed, true);
    assert.equal(decision.audit.length, 1);
    const summary = auditSummary(decision.audit[0]!);
    assert.equal(summary.verdict, 'deleted');
    assert.equal(summary.malformed, true);
    assert.equal(summary.deleter, 'admin');
  });

  it('is not withdrawn by a developer who cannot be shown to own it', async () => {
    const broken = {
      apiVersion: 'kube-request-access.io/v1',
      kind: 'AccessRequest',
      metadata: { name: 'broken', namespace: 'team-a' },
      spec: {},
    };
    const decision = await request(
      objectReview(broken, { user: users.alice, operation: 'DELETE' }),
      lookupOf([], []),
      context(),
    );
    assert.equal(decision.allowed, false);
  });
});
