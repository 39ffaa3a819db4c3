// Invariants 3 and 4 for AccessGrants: grantedBy is the authenticated user, nobody grants their
// own request, the request must exist, a decision is made once and never changed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { grant } from '../../functions/grant/index.ts';
import { accessGrant, accessRequest, context, lookupOf, objectReview, users } from '../support/builders.ts';

const cases: Array<{
  name: string;
  objects: unknown[];
  object: Record<string, unknown>;
  user?: typeof users.alice;
  config?: Parameters<typeof context>[0];
  allowed: boolean;
  message?: RegExp;
  code?: number;
}> = [
  {
    name: 'allows an approver to grant an existing request',
    objects: [accessRequest()],
    object: accessGrant(),
    user: users.carol,
    allowed: true,
  },
  {
    name: 'allows an approver to deny an existing request',
    objects: [accessRequest()],
    object: accessGrant({ status: 'denied', reason: 'not today' }),
    user: users.carol,
    allowed: true,
  },
  {
    name: 'refuses granting your own request',
    objects: [accessRequest()],
    object: accessGrant({ grantedBy: 'alice' }),
    user: users.alice,
    allowed: false,
    message: /cannot grant your own AccessRequest/,
  },
  {
    name: 'refuses granting your own request even for an always-allowed admin',
    objects: [accessRequest({ user: 'admin' })],
    object: accessGrant({ grantedBy: 'admin' }),
    user: users.admin,
    allowed: false,
    message: /your own/,
  },
  {
    name: 'refuses a grantedBy naming someone else',
    objects: [accessRequest()],
    object: accessGrant({ grantedBy: 'carol' }),
    user: users.bob,
    allowed: false,
    message: /grantedBy.username must be you: it says "carol", authenticated as "bob"/,
  },
  {
    name: 'refuses a grant for a request that does not exist',
    objects: [],
    object: accessGrant(),
    user: users.carol,
    allowed: false,
    code: 404,
    message: /no AccessRequest "alice-web-0" in namespace team-a/,
  },
  {
    name: 'refuses a grant for a request in another namespace',
    objects: [accessRequest({ namespace: 'team-b' })],
    object: accessGrant(),
    user: users.carol,
    allowed: false,
  },
  {
    name: 'refuses a grant that pins no request uid, and says how to grant',
    objects: [accessRequest()],
    object: accessGrant({ grantForUID: null }),
    user: users.carol,
    allowed: false,
    code: 400,
    message: /spec.grantForUID is required.*kubectl request grant -n team-a alice-web-0/,
  },
  {
    name: 'refuses a grant for a re-created request (uid changed)',
    objects: [accessRequest()],
    object: accessGrant({ grantForUID: 'uid-of-the-old-one' }),
    user: users.carol,
    allowed: false,
    code: 409,
  },
  {
    name: 'refuses a second decision on a granted request',
    objects: [accessRequest(), accessGrant({ name: 'first' })],
    object: accessGrant({ name: 'second', status: 'denied' }),
    user: users.carol,
    allowed: false,
    message: /already granted by carol/,
  },
  {
    name: 'refuses a second decision on a denied request',
    objects: [accessRequest(), accessGrant({ name: 'first', status: 'denied' })],
    object: accessGrant({ name: 'second' }),
    user: users.carol,
    allowed: false,
    message: /already denied/,
  },
  {
    name: 'refuses an unknown status with the field path',
    objects: [accessRequest()],
    object: { ...accessGrant(), status: 'approved' },
    user: users.carol,
    allowed: false,
    code: 400,
    message: /status/,
  },
  {
    name: 'refuses a grant without grantFor',
    objects: [accessRequest()],
    object: { ...accessGrant(), spec: { grantedBy: { username: 'carol' } } },
    user: users.carol,
    allowed: false,
    code: 400,
    message: /spec.grantFor/,
  },
  {
    name: 'matches grantedBy across the username prefix',
    objects: [accessRequest({ user: 'alice' })],
    object: accessGrant({ grantedBy: 'carol' }),
    user: { username: 'oidc:carol', groups: [] },
    config: { usernamePrefix: 'oidc:' },
    allowed: true,
  },
  {
    name: 'refuses a self-grant across the username prefix',
    objects: [accessRequest({ user: 'alice' })],
    object: accessGrant({ grantedBy: 'oidc:alice' }),
    user: { username: 'oidc:alice', groups: [] },
    config: { usernamePrefix: 'oidc:' },
    allowed: false,
  },
];

describe('grant', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const decision = await grant(
        objectReview(c.object, { user: c.user ?? users.carol }),
        lookupOf(c.objects),
        context(c.config),
      );
      assert.equal(decision.allowed, c.allowed, decision.message);
      if (c.message) assert.match(decision.message, c.message);
      if (c.code) assert.equal(decision.code, c.code);
      assert.equal(decision.audit.length, c.allowed ? 1 : 0);
      assert.deepEqual(decision.effects, [], 'a grant decision never writes: the reconciler binds persisted grants');
    });
  }

  it('audits granted and denied decisions with the request and the grant', async () => {
    for (const status of ['granted', 'denied'] as const) {
      const object = accessGrant({ status });
      const decision = await grant(objectReview(object, { user: users.carol }), lookupOf([accessRequest()]), context());
      const event = decision.audit[0]!;
      assert.equal(event.type, 'audit-granted');
      if (event.type === 'audit-granted') {
        assert.equal(event.data.accessGrant.status, status);
        assert.equal(event.data.accessRequest.metadata.name, 'alice-web-0');
      }
    }
  });

  it('refuses an UPDATE that flips the status', async () => {
    const old = accessGrant({ status: 'denied' });
    const decision = await grant(
      objectReview(accessGrant({ status: 'granted' }), { user: users.carol, operation: 'UPDATE', oldObject: old }),
      lookupOf([accessRequest()]),
      context(),
    );
    assert.equal(decision.allowed, false);
    assert.match(decision.message, /cannot be changed/);
  });

  it('refuses an UPDATE that changes grantFor', async () => {
    const decision = await grant(
      objectReview(accessGrant({ grantFor: 'other' }), {
        user: users.carol,
        operation: 'UPDATE',
        oldObject: accessGrant(),
      }),
      lookupOf([accessRequest()]),
      context(),
    );
    assert.equal(decision.allowed, false);
  });
});

describe('grant: metadata-only updates', () => {
  it('allows relabelling a grant and audits it as an update', async () => {
    const old = accessGrant();
    const relabelled = { ...old, metadata: { ...old.metadata, labels: { ticket: 'OPS-1' } } };
    const decision = await grant(
      objectReview(relabelled, { operation: 'UPDATE', oldObject: old, user: users.carol }),
      lookupOf([accessRequest()]),
      context(),
    );
    assert.equal(decision.allowed, true, decision.message);
    assert.deepEqual(
      decision.audit.map((e) => e.type),
      ['audit-updated'],
    );
  });
});
