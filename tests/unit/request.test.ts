// Invariants 2 and 4 for AccessRequests: only for yourself (admins on behalf of others), bounded,
// consistent, non-interactive, validated by the extension, never changed after creation.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { request, requestStatus } from '../../functions/request/index.ts';
import type { ValidationResult } from '../../functions/types.ts';
import { accessRequest, context, lookupOf, NOW, objectReview, users } from '../support/builders.ts';

const valid = async (): Promise<ValidationResult> => ({ status: 'valid' });

const cases: Array<{
  name: string;
  object: ReturnType<typeof accessRequest> | Record<string, unknown>;
  user?: typeof users.alice;
  namespace?: string;
  config?: Parameters<typeof context>[0];
  allowed: boolean;
  message?: RegExp;
  code?: number;
}> = [
  { name: 'allows a one-shot request for yourself', object: accessRequest(), allowed: true },
  { name: 'allows a time-bound request within the limit', object: accessRequest({ validFor: '1h30m' }), allowed: true },
  {
    name: 'refuses a request for someone else',
    object: accessRequest({ user: 'bob' }),
    allowed: false,
    message: /only request access for yourself \(requested for "bob", authenticated as "alice"\)/,
  },
  {
    name: 'lets an always-allowed admin request on behalf of someone else',
    object: accessRequest({ user: 'bob' }),
    user: users.admin,
    allowed: true,
  },
  {
    name: 'refuses a validFor that is not a duration',
    object: accessRequest({ validFor: 'soon' }),
    allowed: false,
    code: 400,
    message: /spec.validFor: "soon" is not a positive duration/,
  },
  { name: 'refuses a zero validFor', object: accessRequest({ validFor: '0s' }), allowed: false, code: 400 },
  {
    name: 'refuses a validFor over the default limit and states it',
    object: accessRequest({ validFor: '13h' }),
    allowed: false,
    message: /at most 12h is allowed, requested 13h/,
  },
  {
    name: 'states the configured limit',
    object: accessRequest({ validFor: '3h' }),
    config: { maxValidForMs: 2 * 3_600_000 },
    allowed: false,
    message: /at most 2h is allowed/,
  },
  { name: 'refuses stdin', object: accessRequest({ stdin: true }), allowed: false, message: /stdin/ },
  { name: 'refuses a tty', object: accessRequest({ tty: true }), allowed: false, message: /tty/ },
  {
    name: 'refuses a target in another namespace',
    object: accessRequest({ targetNamespace: 'team-b' }),
    allowed: false,
    code: 400,
    message: /spec.forObject.namespace: must be the AccessRequest's own namespace "team-a"/,
  },
  {
    name: 'refuses an unknown subresource',
    object: accessRequest({ subResource: 'proxy' }),
    allowed: false,
    code: 400,
    message: /"proxy" cannot be requested/,
  },
  {
    name: 'refuses a non-pod resource',
    object: {
      ...accessRequest(),
      spec: {
        ...accessRequest().spec,
        forObject: {
          ...accessRequest().spec.forObject,
          resource: { group: 'apps', version: 'v1', resource: 'deployments' },
        },
      },
    },
    allowed: false,
    code: 400,
  },
  {
    name: 'refuses a malformed object with field paths',
    object: { kind: 'AccessRequest', metadata: { name: 'x', namespace: 'team-a' }, spec: { forObject: {} } },
    allowed: false,
    code: 400,
    message: /spec\.userInfo/,
  },
  {
    name: 'records the admin who requests on behalf of someone (created-by annotation)',
    object: {
      ...accessRequest({ user: 'bob' }),
      metadata: { ...accessRequest().metadata, annotations: { 'kube-request-access.io/created-by': 'admin' } },
    },
    user: users.admin,
    allowed: true,
  },
  {
    name: 'refuses a forged created-by annotation',
    object: {
      ...accessRequest(),
      metadata: { ...accessRequest().metadata, annotations: { 'kube-request-access.io/created-by': 'carol' } },
    },
    allowed: false,
    code: 403,
    message:
      /^metadata\.annotations\["kube-request-access\.io\/created-by"\]: must name who creates the request \("alice"\), got "carol"/,
  },
  {
    name: 'keeps a spec.reason (it is only shown to approvers)',
    object: { ...accessRequest(), spec: { ...accessRequest().spec, reason: 'OPS-1: stale cache' } },
    allowed: true,
  },
  {
    name: 'matches the user across the username prefix',
    object: accessRequest({ user: 'alice' }),
    user: { username: 'oidc:alice', groups: [] },
    config: { usernamePrefix: 'oidc:' },
    allowed: true,
  },
];

describe('request', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const review = objectReview(c.object, {
        ...(c.user ? { user: c.user } : {}),
        ...(c.namespace ? { namespace: c.namespace } : {}),
      });
      const decision = await request(review, lookupOf([]), context(c.config, NOW, valid));
      assert.equal(decision.allowed, c.allowed, decision.message);
      if (c.message) assert.match(decision.message, c.message);
      if (c.code) assert.equal(decision.code, c.code);
      assert.equal(decision.audit.length, c.allowed ? 1 : 0);
      if (c.allowed) assert.equal(decision.audit[0]!.type, 'audit-created');
    });
  }

  it('asks the extended validator with the admission request and the AccessRequest', async () => {
    const seen: unknown[] = [];
    const object = accessRequest({ customKeys: { ticket: 'OPS-1' } });
    const decision = await request(
      objectReview(object),
      lookupOf([]),
      context({}, NOW, async (data) => {
        seen.push(data);
        return { status: 'valid' };
      }),
    );
    assert.equal(decision.allowed, true);
    assert.equal(seen.length, 1);
    assert.deepEqual((seen[0] as { accessRequest: unknown }).accessRequest, object);
  });

  it("refuses with the validator's message when it answers invalid", async () => {
    const decision = await request(
      objectReview(accessRequest()),
      lookupOf([]),
      context({}, NOW, async () => ({ status: 'invalid', message: 'add -k ticket=OPS-123' })),
    );
    assert.equal(decision.allowed, false);
    assert.match(decision.message, /rejected by the validation webhook: add -k ticket=OPS-123/);
  });

  it('lets a validator failure propagate so the shell fails closed', async () => {
    await assert.rejects(
      request(
        objectReview(accessRequest()),
        lookupOf([]),
        context({}, NOW, async () => {
          throw new Error('unreachable');
        }),
      ),
      /unreachable/,
    );
  });

  it('refuses an UPDATE that changes the spec', async () => {
    const old = accessRequest();
    const changed = accessRequest({ command: ['sh', '-c', 'anything'] });
    const decision = await request(
      objectReview(changed, { operation: 'UPDATE', oldObject: old }),
      lookupOf([]),
      context(),
    );
    assert.equal(decision.allowed, false);
    assert.match(decision.message, /cannot be changed after creation/);
  });

  it('refuses an UPDATE that extends the window', async () => {
    const decision = await request(
      objectReview(accessRequest({ validFor: '12h' }), {
        operation: 'UPDATE',
        oldObject: accessRequest({ validFor: '1h' }),
      }),
      lookupOf([]),
      context(),
    );
    assert.equal(decision.allowed, false);
  });

  it('allows an UPDATE that only touches metadata, audited as an update (not as a new request)', async () => {
    const old = accessRequest();
    const relabelled = { ...old, metadata: { ...old.metadata, labels: { team: 'a' } } };
    const decision = await request(
      objectReview(relabelled, { operation: 'UPDATE', oldObject: old }),
      lookupOf([]),
      context(),
    );
    assert.equal(decision.allowed, true);
    assert.deepEqual(
      decision.audit.map((e) => e.type),
      ['audit-updated'],
    );
  });
});

describe('request: namespaces the exec webhook does not gate', () => {
  it('refuses a request for a pod in kube-system and says whom to ask', async () => {
    const object = accessRequest({ namespace: 'kube-system' });
    const decision = await request(objectReview(object), lookupOf([]), context());
    assert.equal(decision.allowed, false);
    assert.match(decision.message, /exec in kube-system is not gated by kube-request-access.*ask a cluster admin/);
  });

  it('follows the configured list', async () => {
    const object = accessRequest({ namespace: 'platform' });
    const gated = await request(objectReview(object), lookupOf([]), context());
    assert.equal(gated.allowed, true, gated.message);
    const ungated = await request(objectReview(object), lookupOf([]), context({ ungatedNamespaces: ['platform'] }));
    assert.equal(ungated.allowed, false);
  });
});

describe('request: dry run', () => {
  it('does not ask the extended validator (nothing leaves the process) and says so in a warning', async () => {
    let asked = 0;
    const refusing = async (): Promise<ValidationResult> => {
      asked++;
      return { status: 'invalid', message: 'no ticket' };
    };
    const decision = await request(
      objectReview(accessRequest(), { dryRun: true }),
      lookupOf([]),
      context({}, NOW, refusing),
    );
    assert.equal(asked, 0);
    assert.equal(decision.allowed, true);
    assert.match(decision.warnings?.join('\n') ?? '', /dry run: the extended validation webhook was not asked/);
  });
});

describe('request status', () => {
  it('lets kube-request-access alone write it', async () => {
    const self = 'system:serviceaccount:kube-request-access:kube-request-access';
    const review = (username: string) => ({
      ...objectReview(accessRequest(), { operation: 'UPDATE', user: { username, groups: [] } }),
      subResource: 'status',
    });
    assert.equal((await requestStatus(review(self), lookupOf([]), context({ selfUsernames: [self] }))).allowed, true);
    const alice = await requestStatus(review('alice'), lookupOf([]), context({ selfUsernames: [self] }));
    assert.equal(alice.allowed, false);
    assert.match(alice.message, /status of an AccessRequest is written by kube-request-access only/);
  });

  it("allows the server's merge patch of state and conditions without an audit event, and refuses it from others", async () => {
    const self = 'system:serviceaccount:kube-request-access:kube-request-access';
    const before = accessRequest();
    const after = { ...before, status: { state: 'Granted', conditions: [{ type: 'Granted', status: 'True' }] } };
    const review = (username: string) => ({
      ...objectReview(after, { operation: 'UPDATE', user: { username, groups: [] } }),
      oldObject: before,
      subResource: 'status',
    });
    const own = await requestStatus(review(self), lookupOf([]), context({ selfUsernames: [self] }));
    assert.equal(own.allowed, true);
    assert.deepEqual(own.audit, []);
    assert.deepEqual(own.effects, []);
    const bob = await requestStatus(review('bob'), lookupOf([]), context({ selfUsernames: [self] }));
    assert.equal(bob.allowed, false);
  });
});

describe('a request pinned to a pod object (spec.forObject.uid)', () => {
  const pod = (uid: string) => ({ kind: 'Pod', metadata: { namespace: 'team-a', name: 'web-0', uid } });
  const review = (object: ReturnType<typeof accessRequest>) => objectReview(object, { user: users.alice });

  it('is allowed when the pod of that name has that uid now', async () => {
    const pinned = accessRequest({ podUID: 'pod-uid-1' });
    const decision = await request(review(pinned), lookupOf([pod('pod-uid-1')]), context());
    assert.equal(decision.allowed, true, decision.message);
  });

  it('is refused, with what to do, when the pod was re-created or is gone', async () => {
    const pinned = accessRequest({ podUID: 'pod-uid-1' });
    const recreated = await request(review(pinned), lookupOf([pod('pod-uid-2')]), context());
    assert.equal(recreated.allowed, false);
    assert.equal(recreated.code, 400);
    assert.match(
      recreated.message,
      /^spec\.forObject\.uid: the request is pinned to uid pod-uid-1, but pod team-a\/web-0 now has uid pod-uid-2 \(it was re-created\); request again with --pin/,
    );
    const gone = await request(review(pinned), lookupOf([]), context());
    assert.match(gone.message, /but there is no pod team-a\/web-0; request again with --pin/);
  });

  it('reads no pod for a request that is not pinned', async () => {
    const lookup = lookupOf([]);
    lookup.podUID = async () => {
      throw new Error('must not be asked');
    };
    assert.equal((await request(review(accessRequest()), lookup, context())).allowed, true);
  });
});
