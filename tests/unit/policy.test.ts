// AccessPolicies (functions/policy.ts): approvers on top of RBAC, N distinct approvals, limits and
// required fields at request time, pre-approved commands, a malformed policy failing closed, and
// the one state machine (evaluateGrant) that admission, the reconciler and cleanup all ask.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluateGrant } from '../../functions/access.ts';
import { dueForCleanup } from '../../functions/cleanup/index.ts';
import { exec } from '../../functions/exec/index.ts';
import { grant } from '../../functions/grant/index.ts';
import { approverProblem, readPolicy, requestLimitProblem, type LoadedPolicy } from '../../functions/policy.ts';
import { desiredRoleBindings, POLICY_ANNOTATION, GRANT_ANNOTATION } from '../../functions/reconcile/index.ts';
import { request } from '../../functions/request/index.ts';
import {
  accessGrant,
  accessRequest,
  context,
  execReview,
  lookupOf,
  minutes,
  NOW,
  objectReview,
  users,
} from '../support/builders.ts';

function policy(spec: Record<string, unknown>, options: { name?: string; namespace?: string } = {}): LoadedPolicy {
  return readPolicy({
    apiVersion: 'kube-request-access.io/v1',
    kind: 'AccessPolicy',
    metadata: { name: options.name ?? 'production', namespace: options.namespace ?? 'team-a' },
    spec,
  })!;
}
const twoApprovals = policy({ requiredApprovals: 2 });
const dave = { username: 'dave', groups: ['approvers', 'system:authenticated'] };
const approvers = ['carol', 'dave', 'erin'];

describe('evaluateGrant with AccessPolicies', () => {
  it("is today's machine without a policy: one grant grants", () => {
    const state = evaluateGrant(accessRequest(), [accessGrant()], NOW);
    assert.equal(state.state, 'granted');
  });

  it('says "1 of 2 approvals" until a second distinct approver grants', () => {
    const one = evaluateGrant(accessRequest(), [accessGrant({ name: 'g1' })], NOW, '', [twoApprovals]);
    assert.deepEqual(one, { state: 'pending', approvals: 1, required: 2, approvedBy: ['carol'] });
    const two = evaluateGrant(
      accessRequest(),
      [accessGrant({ name: 'g1' }), accessGrant({ name: 'g2', grantedBy: 'dave' })],
      NOW,
      '',
      [twoApprovals],
    );
    assert.equal(two.state, 'granted');
    assert.deepEqual(two.state === 'granted' && two.grants.map((g) => g.metadata.name), ['g1', 'g2']);
  });

  it('counts one approver once, however many grants they made', () => {
    const state = evaluateGrant(accessRequest(), [accessGrant({ name: 'g1' }), accessGrant({ name: 'g2' })], NOW, '', [
      twoApprovals,
    ]);
    assert.deepEqual(state, { state: 'pending', approvals: 1, required: 2, approvedBy: ['carol'] });
  });

  it('counts one approver once across the username prefix', () => {
    const state = evaluateGrant(
      accessRequest(),
      [accessGrant({ name: 'g1' }), accessGrant({ name: 'g2', grantedBy: 'oidc:carol' })],
      NOW,
      'oidc:',
      [twoApprovals],
    );
    assert.equal(state.state, 'pending');
  });

  it('a denial after one approval wins', () => {
    const state = evaluateGrant(
      accessRequest(),
      [accessGrant({ name: 'g1' }), accessGrant({ name: 'd', grantedBy: 'dave', status: 'denied' })],
      NOW,
      '',
      [twoApprovals],
    );
    assert.equal(state.state, 'denied');
  });

  it('starts a time-bound window at the Nth approval', () => {
    const grants = [
      accessGrant({ name: 'g1', createdAt: minutes(-50) }),
      accessGrant({ name: 'g2', grantedBy: 'dave', createdAt: minutes(-5) }),
    ];
    const state = evaluateGrant(accessRequest({ validFor: '30m' }), grants, NOW, '', [twoApprovals]);
    assert.equal(state.state, 'granted');
    assert.equal(state.state === 'granted' && state.expiresAt?.toISOString(), minutes(25));
    // Without the policy the first grant would have started it, and it would be over.
    assert.equal(evaluateGrant(accessRequest({ validFor: '30m' }), grants, NOW).state, 'expired');
  });

  it("takes the most approvals of all the namespace's policies", () => {
    const state = evaluateGrant(
      accessRequest(),
      [accessGrant({ name: 'g1' }), accessGrant({ name: 'g2', grantedBy: 'dave' })],
      NOW,
      '',
      [twoApprovals, policy({ requiredApprovals: 3 }, { name: 'stricter' })],
    );
    assert.deepEqual(state.state === 'pending' && [state.approvals, state.required], [2, 3]);
  });

  it('ignores the policies of other namespaces', () => {
    const state = evaluateGrant(accessRequest(), [accessGrant()], NOW, '', [
      policy({ requiredApprovals: 2 }, { namespace: 'team-b' }),
    ]);
    assert.equal(state.state, 'granted');
  });

  it('grants a pre-approved exact command without a grant, naming the policy', () => {
    const staging = policy({ preApproved: [{ command: ['cat', '/app/config'] }] }, { name: 'reads' });
    const state = evaluateGrant(accessRequest(), [], NOW, '', [staging]);
    assert.equal(state.state, 'granted');
    assert.equal(state.state === 'granted' && state.policy, 'reads');
    assert.equal(state.state === 'granted' && state.grant.spec.grantedBy.username, 'AccessPolicy/reads');
  });

  it('does not pre-approve another command, another container, or a request for any command', () => {
    const staging = policy({ preApproved: [{ command: ['cat', '/app/config'], container: 'app' }] });
    assert.equal(
      evaluateGrant(accessRequest({ command: ['cat', '/app/config', '/etc/shadow'] }), [], NOW, '', [staging]).state,
      'pending',
    );
    assert.equal(evaluateGrant(accessRequest({ container: 'sidecar' }), [], NOW, '', [staging]).state, 'pending');
    assert.equal(evaluateGrant(accessRequest({ command: [] }), [], NOW, '', [staging]).state, 'pending');
    assert.equal(evaluateGrant(accessRequest({ subResource: 'attach' }), [], NOW, '', [staging]).state, 'pending');
  });

  it('a denial stops a pre-approved request; a time-bound one runs from its creation', () => {
    const staging = policy({ preApproved: [{ command: ['cat', '/app/config'] }] });
    assert.equal(
      evaluateGrant(accessRequest(), [accessGrant({ status: 'denied' })], NOW, '', [staging]).state,
      'denied',
    );
    const timed = evaluateGrant(accessRequest({ validFor: '1h' }), [], NOW, '', [staging]);
    assert.equal(timed.state === 'granted' && timed.expiresAt?.toISOString(), minutes(30));
    assert.equal(evaluateGrant(accessRequest({ validFor: '20m' }), [], NOW, '', [staging]).state, 'expired');
  });

  it('fails closed on a malformed policy: nothing is granted in its namespace', () => {
    const broken = readPolicy({
      kind: 'AccessPolicy',
      metadata: { name: 'typo', namespace: 'team-a' },
      spec: { requiredApprovals: 'two' },
    })!;
    assert.ok(broken.malformed);
    const state = evaluateGrant(accessRequest(), [accessGrant()], NOW, '', [broken]);
    assert.equal(state.state, 'invalid');
    assert.match(state.state === 'invalid' ? state.reason : '', /AccessPolicy team-a\/typo is malformed/);
  });

  it('refuses an array where a policy spec belongs', () => {
    assert.ok(readPolicy({ kind: 'AccessPolicy', metadata: { name: 'p', namespace: 'team-a' }, spec: [] })?.malformed);
  });
});

describe('AccessGrant review with AccessPolicies', () => {
  const objects = (...extra: unknown[]) => [accessRequest(), ...extra];
  const decide = (
    object: unknown[],
    grantObject: Record<string, unknown>,
    user: { username: string; groups?: string[] } = users.carol,
  ) => grant(objectReview(grantObject, { user }), lookupOf(object, approvers), context());

  it('refuses an approver a policy does not name, even one RBAC allows', async () => {
    const decision = await decide(objects(policy({ approvers: { users: ['dave'], groups: ['sre'] } })), accessGrant());
    assert.equal(decision.allowed, false);
    assert.match(
      decision.message,
      /AccessPolicy team-a\/production names the approvers .*user dave, group sre.*carol is not one of them/,
    );
  });

  it('accepts an approver named by user or by group', async () => {
    assert.equal((await decide(objects(policy({ approvers: { users: ['carol'] } })), accessGrant())).allowed, true);
    assert.equal(
      (await decide(objects(policy({ approvers: { groups: ['approvers'] } })), accessGrant())).allowed,
      true,
    );
  });

  it('refuses a denial by an approver a policy does not name', async () => {
    const decision = await decide(
      objects(policy({ approvers: { users: ['dave'] } })),
      accessGrant({ status: 'denied' }),
    );
    assert.equal(decision.allowed, false);
  });

  it('never lets the requester approve their own request, even when named as an approver', async () => {
    const decision = await decide(
      objects(policy({ approvers: { users: ['alice', 'carol'] } })),
      accessGrant({ grantedBy: 'alice' }),
      users.alice,
    );
    assert.equal(decision.allowed, false);
    assert.match(decision.message, /own AccessRequest/);
  });

  it('refuses a second grant by the same approver with a clear message', async () => {
    const decision = await decide(objects(twoApprovals, accessGrant({ name: 'g1' })), accessGrant({ name: 'g2' }));
    assert.equal(decision.allowed, false);
    assert.equal(decision.code, 409);
    assert.match(
      decision.message,
      /you already granted AccessRequest "alice-web-0" \(1 of 2 approvals\).*another approver/,
    );
  });

  it('accepts a second approver, warning with the count while approvals are missing', async () => {
    const first = await decide(objects(policy({ requiredApprovals: 3 })), accessGrant({ name: 'g1' }));
    assert.equal(first.allowed, true);
    assert.deepEqual(first.warnings, [
      'AccessRequest alice-web-0 now has 1 of 3 approvals; it needs 2 more from other approvers',
    ]);
    const second = await decide(
      objects(twoApprovals, accessGrant({ name: 'g1' })),
      accessGrant({ name: 'g2', grantedBy: 'dave' }),
      dave,
    );
    assert.equal(second.allowed, true, second.message);
    assert.equal(second.audit[0]?.type, 'audit-granted');
  });

  it('accepts a denial after one approval, and refuses decisions once granted', async () => {
    const denial = await decide(
      objects(twoApprovals, accessGrant({ name: 'g1' })),
      accessGrant({ name: 'd', grantedBy: 'dave', status: 'denied' }),
      dave,
    );
    assert.equal(denial.allowed, true);
    const third = await decide(
      objects(twoApprovals, accessGrant({ name: 'g1' }), accessGrant({ name: 'g2', grantedBy: 'dave' })),
      accessGrant({ name: 'g3', grantedBy: 'erin' }),
      { username: 'erin', groups: [] },
    );
    assert.equal(third.allowed, false);
    assert.match(third.message, /already granted by carol and dave/);
  });

  it('refuses to grant a pre-approved request, but lets an approver deny it', async () => {
    const reads = policy({ preApproved: [{ command: ['cat', '/app/config'] }] }, { name: 'reads' });
    const granted = await decide(objects(reads), accessGrant());
    assert.equal(granted.allowed, false);
    assert.match(granted.message, /pre-approved by AccessPolicy reads/);
    assert.equal((await decide(objects(reads), accessGrant({ status: 'denied' }))).allowed, true);
  });

  it('refuses every decision while a policy of the namespace is malformed', async () => {
    const broken = readPolicy({
      kind: 'AccessPolicy',
      metadata: { name: 'typo', namespace: 'team-a' },
      spec: { approvers: 'carol' },
    });
    const decision = await decide(objects(broken), accessGrant());
    assert.equal(decision.allowed, false);
    assert.match(decision.message, /malformed/);
  });
});

describe('AccessRequest limits and required fields', () => {
  const create = (
    spec: Record<string, unknown>,
    options: Parameters<typeof accessRequest>[0] = {},
    reason?: string,
  ) => {
    const object = accessRequest(options);
    if (options.subResource && options.subResource !== 'exec') delete object.spec.execOptions;
    if (reason !== undefined) object.spec.reason = reason;
    return request(objectReview(object, { user: users.alice }), lookupOf([policy(spec)]), context());
  };

  it('allows what no policy limits', async () => {
    const decision = await request(
      objectReview(accessRequest({ validFor: '10h' }), { user: users.alice }),
      lookupOf([]),
      context(),
    );
    assert.equal(decision.allowed, true, decision.message);
  });

  it('refuses a kind of access the policy does not allow, naming the policy', async () => {
    const decision = await create({ allowedKinds: ['exec', 'cp'] }, { subResource: 'portforward' });
    assert.equal(decision.allowed, false);
    assert.match(
      decision.message,
      /AccessPolicy team-a\/production allows only exec, cp requests in namespace team-a, not port-forward/,
    );
    assert.equal((await create({ allowedKinds: ['exec'] })).allowed, true);
  });

  it("refuses a window longer than the policy's maxValidFor, and says what to ask for", async () => {
    const decision = await create({ maxValidFor: '1h' }, { validFor: '2h' });
    assert.equal(decision.allowed, false);
    assert.match(
      decision.message,
      /spec.validFor: AccessPolicy team-a\/production allows at most 1h, requested 2h; ask for --valid-for 1h or less/,
    );
    assert.equal((await create({ maxValidFor: '1h' }, { validFor: '30m' })).allowed, true);
    assert.equal((await create({ maxValidFor: '1h' })).allowed, true, 'a one-shot request has no window');
  });

  it('refuses a request without a reason where one is required', async () => {
    const missing = await create({ requireReason: true });
    assert.equal(missing.allowed, false);
    assert.match(missing.message, /spec.reason: .*requires a reason; .*--reason/);
    assert.equal((await create({ requireReason: true }, {}, '   ')).allowed, false);
    assert.equal((await create({ requireReason: true }, {}, 'the cache is stale')).allowed, true);
  });

  it('refuses a missing or malformed ticket, and takes a matching one', async () => {
    const spec = {
      requiredCustomKeys: [{ key: 'ticket', pattern: '^OPS-[0-9]+$', description: 'the incident ticket' }],
    };
    const missing = await create(spec);
    assert.equal(missing.allowed, false);
    assert.match(
      missing.message,
      /spec.customKeys.ticket: AccessPolicy team-a\/production requires the custom key ticket \(the incident ticket\) matching \^OPS-\[0-9\]\+\$; add --key ticket=VALUE/,
    );
    const wrong = await create(spec, { customKeys: { ticket: 'JIRA-1' } });
    assert.equal(wrong.allowed, false);
    assert.match(wrong.message, /to match \^OPS-\[0-9\]\+\$, got "JIRA-1"/);
    assert.equal((await create(spec, { customKeys: { ticket: 'OPS-42' } })).allowed, true);
  });

  it("never matches an over-long value against an admin's pattern", async () => {
    const decision = await create(
      { requiredCustomKeys: [{ key: 'ticket', pattern: '^.*$' }] },
      { customKeys: { ticket: 'x'.repeat(300) } },
    );
    assert.equal(decision.allowed, false);
  });

  it('fails closed on an invalid pattern or maxValidFor, saying who fixes it', async () => {
    const pattern = await create(
      { requiredCustomKeys: [{ key: 'ticket', pattern: '(' }] },
      { customKeys: { ticket: 'OPS-1' } },
    );
    assert.equal(pattern.allowed, false);
    assert.match(pattern.message, /invalid pattern .*namespace admin/);
    const window = await create({ maxValidFor: 'soon' }, { validFor: '1h' });
    assert.equal(window.allowed, false);
  });

  it('checks every policy of the namespace, and those of no other', () => {
    const r = accessRequest({ validFor: '2h' });
    assert.match(
      requestLimitProblem(r, 'exec', [policy({}), policy({ maxValidFor: '1h' }, { name: 'z' })]) ?? '',
      /team-a\/z/,
    );
    assert.equal(requestLimitProblem(r, 'exec', [policy({ maxValidFor: '1h' }, { namespace: 'team-b' })]), undefined);
  });

  it('names approvers only where a policy names some', () => {
    assert.equal(approverProblem(users.carol, 'team-a', [policy({})], ''), undefined);
    assert.equal(
      approverProblem(users.carol, 'team-a', [policy({ approvers: { users: [], groups: [] } })], ''),
      undefined,
    );
    assert.equal(
      approverProblem(
        { username: 'oidc:carol', groups: [] },
        'team-a',
        [policy({ approvers: { users: ['carol'] } })],
        'oidc:',
      ),
      undefined,
    );
  });
});

describe('exec review with AccessPolicies', () => {
  it('allows a pre-approved command with no grant, names the policy in the message, audit event and annotations', async () => {
    const reads = policy({ preApproved: [{ command: ['cat', '/app/config'], container: 'app' }] }, { name: 'reads' });
    const decision = await exec(execReview(), lookupOf([accessRequest(), reads]), context());
    assert.equal(decision.allowed, true, decision.message);
    assert.match(decision.message, /pre-approved by AccessPolicy reads/);
    assert.equal(decision.effects[0]?.type, 'consume-request', 'a one-shot pre-approved request is still used up');
    const event = decision.audit[0];
    assert.equal(event?.type, 'audit-exec');
    assert.equal(event?.type === 'audit-exec' && event.data.policy, 'reads');
    assert.deepEqual(decision.auditAnnotations, {
      'access-request': 'team-a/alice-web-0',
      'access-request-uid': 'uid-alice-web-0',
      'access-policy': 'reads',
      'access-request-use': '1/1',
    });
  });

  it("does not pre-approve without the requester's own AccessRequest", async () => {
    const reads = policy({ preApproved: [{ command: ['cat', '/app/config'] }] });
    const decision = await exec(execReview(), lookupOf([reads]), context());
    assert.equal(decision.allowed, false);
    assert.match(decision.message, /no AccessRequest of yours/);
  });

  it('denies with "1 of 2 approvals" and who gave it', async () => {
    const decision = await exec(execReview(), lookupOf([accessRequest(), twoApprovals, accessGrant()]), context());
    assert.equal(decision.allowed, false);
    assert.match(
      decision.message,
      /AccessRequest alice-web-0 has 1 of 2 approvals \(by carol\); ask another approver to run: kubectl request grant -n team-a alice-web-0/,
    );
  });

  it('names the request and every approval that allowed it in the annotations; no audit-event policy', async () => {
    const decision = await exec(
      execReview(),
      lookupOf([
        accessRequest(),
        twoApprovals,
        accessGrant({ name: 'g1' }),
        accessGrant({ name: 'g2', grantedBy: 'dave' }),
      ]),
      context(),
    );
    assert.equal(decision.allowed, true, decision.message);
    assert.deepEqual(decision.auditAnnotations, {
      'access-request': 'team-a/alice-web-0',
      'access-request-uid': 'uid-alice-web-0',
      'access-grants': 'team-a/g1,team-a/g2',
      'access-request-use': '1/1',
    });
    const event = decision.audit[0];
    assert.ok(event?.type === 'audit-exec' && !('policy' in event.data));
  });
});

describe('reconciler and cleanup with AccessPolicies', () => {
  const config = {
    grantedRoleName: 'granted',
    grantedRoleKind: 'ClusterRole' as const,
    usernamePrefix: '',
    ungatedNamespaces: [],
  };

  it('binds only once N approvals are in, annotated with all of them', () => {
    const one = desiredRoleBindings({
      requests: [accessRequest()],
      grants: [accessGrant({ name: 'g1' })],
      policies: [twoApprovals],
      now: NOW,
      config,
    });
    assert.equal(one.bindings.length, 0);
    const two = desiredRoleBindings({
      requests: [accessRequest()],
      grants: [accessGrant({ name: 'g1' }), accessGrant({ name: 'g2', grantedBy: 'dave' })],
      policies: [twoApprovals],
      now: NOW,
      config,
    });
    assert.equal(two.bindings[0]?.metadata.annotations[GRANT_ANNOTATION], 'g1,g2');
  });

  it('binds a pre-approved request, annotated with the policy', () => {
    const reads = policy({ preApproved: [{ command: ['cat', '/app/config'] }] }, { name: 'reads' });
    const state = desiredRoleBindings({ requests: [accessRequest()], grants: [], policies: [reads], now: NOW, config });
    assert.equal(state.bindings[0]?.metadata.annotations[POLICY_ANNOTATION], 'reads');
  });

  it('keeps a time-bound request until the window that started at the Nth approval ends', () => {
    const grants = [
      accessGrant({ name: 'g1', createdAt: minutes(-50) }),
      accessGrant({ name: 'g2', grantedBy: 'dave', createdAt: minutes(-5) }),
    ];
    const plan = dueForCleanup({
      requests: [accessRequest({ validFor: '30m' })],
      grants,
      policies: [twoApprovals],
      now: NOW,
      deleteAfterMs: 3_600_000,
    });
    assert.deepEqual(plan.deletions, []);
    assert.equal(plan.nextDueAt?.toISOString(), minutes(25));
  });
});

describe('AdmissionResponse auditAnnotations', () => {
  it("puts the decision's annotations into the response, dropping keys the apiserver would refuse", async () => {
    const { respond } = await import('../../adapters/http/app.ts');
    const { allow } = await import('../../functions/types.ts');
    const answer = respond(
      'u-1',
      allow('ok', { auditAnnotations: { 'access-request': 'r', 'Bad/Key': 'x', 'access-grants': 'g1,g2' } }),
    );
    assert.deepEqual(answer.response.auditAnnotations, { 'access-request': 'r', 'access-grants': 'g1,g2' });
    assert.equal('auditAnnotations' in respond('u-2', allow('ok')).response, false, 'no empty record');
  });
});
