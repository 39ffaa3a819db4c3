// Break-glass (issue 18): a member of a policy's break-glass group grants their own request with a
// reason, within the window; the grant alone grants (whatever requiredApprovals says), counts only
// while the user is in the group (checked at every exec), is audited as audit-break-glass, makes
// no RoleBinding, and needs another approver's review (status reviewed), which never grants.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { auditLine } from '../../adapters/audit/log.ts';
import { auditSinkOver } from '../../adapters/audit/webhook-protocol.ts';
import { evaluateGrant, grantBelongsTo } from '../../functions/access.ts';
import { breakGlassVerdict, needsReview, reviewState } from '../../functions/breakglass.ts';
import { dueForCleanup } from '../../functions/cleanup/index.ts';
import { exec } from '../../functions/exec/index.ts';
import { grant } from '../../functions/grant/index.ts';
import { request as requestConcern } from '../../functions/request/index.ts';
import { readPolicy, type LoadedPolicy } from '../../functions/policy.ts';
import { desiredRoleBindings } from '../../functions/reconcile/index.ts';
import type { AccessGrant } from '../../functions/schemas.ts';
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

function policy(spec: Record<string, unknown>, name = 'production'): LoadedPolicy {
  return readPolicy({
    apiVersion: 'kube-request-access.io/v1',
    kind: 'AccessPolicy',
    metadata: { name, namespace: 'team-a' },
    spec,
  })!;
}
/** alice (group developers) may break glass; two approvals otherwise. */
const glassPolicy = policy({ requiredApprovals: 2, breakGlass: { groups: ['developers'] } });

/** alice's own break-glass grant of her request alice-web-0. */
function glass(options: { reason?: string; createdAt?: string; name?: string; by?: string } = {}): AccessGrant {
  const base = accessGrant({
    name: options.name ?? 'alice-web-0-grant',
    grantedBy: options.by ?? 'alice',
    createdAt: options.createdAt ?? minutes(-5),
    ...(options.reason === '' ? {} : { reason: options.reason ?? 'prod is down, INC-7' }),
  });
  return { ...base, spec: { ...base.spec, breakGlass: true } };
}
function review(by = 'carol', reason?: string): AccessGrant {
  const base = accessGrant({ name: 'alice-web-0-review', grantedBy: by, createdAt: minutes(-1), reason });
  return { ...base, status: 'reviewed' };
}

const create = (objects: unknown[], object: AccessGrant, user: { username: string; groups?: string[] }) =>
  grant(objectReview(object, { user }), lookupOf(objects, ['carol', 'alice', 'dave']), context());

describe('break-glass rules (breakGlassVerdict)', () => {
  const request = accessRequest();
  it('allows a member with a reason, naming the policy', () => {
    assert.deepEqual(breakGlassVerdict(request, glass(), [glassPolicy], users.alice), {
      policy: 'team-a/production',
    });
  });
  it('refuses without a reason, or a blank one', () => {
    for (const reason of ['', '   ']) {
      const verdict = breakGlassVerdict(request, glass({ reason }), [glassPolicy], users.alice);
      assert.match('problem' in verdict ? verdict.problem : '', /spec.reason: a break-glass grant needs a reason/);
    }
  });
  it('refuses where no policy allows break-glass, or without any policy', () => {
    for (const policies of [[], [policy({ requiredApprovals: 2 })]]) {
      const verdict = breakGlassVerdict(request, glass(), policies, users.alice);
      assert.match(
        'problem' in verdict ? verdict.problem : '',
        /no AccessPolicy of namespace team-a allows break-glass; ask an approver to grant it: kubectl request grant -n team-a alice-web-0/,
      );
    }
  });
  it('refuses a user in none of the groups, naming the groups and the policy', () => {
    const verdict = breakGlassVerdict(
      request,
      glass(),
      [policy({ breakGlass: { groups: ['sre', 'oncall'] } })],
      users.alice,
    );
    assert.match(
      'problem' in verdict ? verdict.problem : '',
      /break-glass in namespace team-a is for members of sre, oncall \(AccessPolicy team-a\/production\), and alice is in none of them/,
    );
  });
  it('limits the window to maxValidFor, 1h by default; a one-shot request always fits', () => {
    const long = accessRequest({ validFor: '2h' });
    const refused = breakGlassVerdict(long, glass(), [glassPolicy], users.alice);
    assert.match(
      'problem' in refused ? refused.problem : '',
      /spec.validFor: break-glass under AccessPolicy team-a\/production allows at most 1h, the request asks for 2h; request again with --valid-for 1h or less/,
    );
    assert.ok('policy' in breakGlassVerdict(accessRequest({ validFor: '1h' }), glass(), [glassPolicy], users.alice));
    assert.ok('policy' in breakGlassVerdict(accessRequest(), glass(), [glassPolicy], users.alice));
    const wider = policy({ breakGlass: { groups: ['developers'], maxValidFor: '4h' } });
    assert.ok('policy' in breakGlassVerdict(long, glass(), [wider], users.alice));
  });
  it('fails closed on a malformed policy of the namespace', () => {
    const broken = readPolicy({
      kind: 'AccessPolicy',
      metadata: { name: 'broken', namespace: 'team-a' },
      spec: { requiredApprovals: 'two' },
    })!;
    const verdict = breakGlassVerdict(request, glass(), [glassPolicy, broken], users.alice);
    assert.match('problem' in verdict ? verdict.problem : '', /AccessPolicy team-a\/broken is malformed/);
  });
  it('ignores the break-glass rule of another namespace', () => {
    const elsewhere = readPolicy({
      kind: 'AccessPolicy',
      metadata: { name: 'p', namespace: 'team-b' },
      spec: { breakGlass: { groups: ['developers'] } },
    })!;
    assert.ok('problem' in breakGlassVerdict(request, glass(), [elsewhere], users.alice));
  });
});

describe('evaluateGrant with a break-glass grant', () => {
  it('a self-grant without spec.breakGlass stays void (defence in depth)', () => {
    const self = accessGrant({ grantedBy: 'alice', reason: 'x' });
    assert.equal(grantBelongsTo(self, accessRequest(), '', [glassPolicy]), false);
    assert.equal(evaluateGrant(accessRequest(), [self], NOW, '', [glassPolicy], users.alice).state, 'pending');
  });
  it('grants alone, even where two approvals are required, from its own creation', () => {
    const state = evaluateGrant(accessRequest({ validFor: '1h' }), [glass()], NOW, '', [glassPolicy], users.alice);
    assert.equal(state.state, 'granted');
    assert.deepEqual(state.state === 'granted' && state.breakGlass, { policy: 'team-a/production' });
    assert.equal(state.state === 'granted' && state.expiresAt?.toISOString(), minutes(55));
  });
  it('is void once no policy allows break-glass, or without a reason', () => {
    assert.equal(evaluateGrant(accessRequest(), [glass()], NOW, '', [], users.alice).state, 'pending');
    assert.equal(
      evaluateGrant(accessRequest(), [glass({ reason: '' })], NOW, '', [glassPolicy], users.alice).state,
      'pending',
    );
  });
  it('does not count for a user who left the group, and says why', () => {
    const state = evaluateGrant(accessRequest(), [glass()], NOW, '', [glassPolicy], {
      username: 'alice',
      groups: ['system:authenticated'],
    });
    assert.equal(state.state, 'invalid');
    assert.match(
      state.state === 'invalid' ? state.reason : '',
      /the break-glass AccessGrant alice-web-0-grant does not count: .*alice is in none of them/,
    );
  });
  it('a denial still wins', () => {
    const denied = accessGrant({ name: 'd', grantedBy: 'carol', status: 'denied' });
    assert.equal(
      evaluateGrant(accessRequest(), [glass(), denied], NOW, '', [glassPolicy], users.alice).state,
      'denied',
    );
  });
  it('a review never counts as an approval', () => {
    const state = evaluateGrant(accessRequest(), [review(), accessGrant({ grantedBy: 'dave' })], NOW, '', [
      glassPolicy,
    ]);
    assert.deepEqual(state, { state: 'pending', approvals: 1, required: 2, approvedBy: ['dave'] });
    assert.equal(evaluateGrant(accessRequest(), [review()], NOW).state, 'pending', 'not even without a policy');
  });
});

describe('creating a break-glass grant (functions/grant)', () => {
  const objects = (...extra: unknown[]) => [accessRequest(), glassPolicy, ...extra];

  it('allows a member with a reason, audited as audit-granted and audit-break-glass, with a warning', async () => {
    const decision = await create(objects(), glass(), users.alice);
    assert.equal(decision.allowed, true, decision.message);
    assert.deepEqual(
      decision.audit.map((event) => event.type),
      ['audit-granted', 'audit-break-glass'],
    );
    const event = decision.audit[1];
    assert.equal(event?.type === 'audit-break-glass' && event.data.policy, 'team-a/production');
    assert.equal(event?.type === 'audit-break-glass' && event.data.phase, 'granted');
    assert.match(
      decision.warnings?.[0] ?? '',
      /break-glass: you granted your own AccessRequest alice-web-0 .*kubectl request review -n team-a alice-web-0/,
    );
  });
  it('refuses without a reason', async () => {
    const decision = await create(objects(), glass({ reason: '' }), users.alice);
    assert.equal(decision.allowed, false);
    assert.match(decision.message, /spec.reason: a break-glass grant needs a reason/);
  });
  it('refuses a non-member, and where no policy allows it', async () => {
    const bob = await create(
      [accessRequest({ user: 'bob' }), policy({ breakGlass: { groups: ['sre'] } })],
      glass({ by: 'bob' }),
      users.bob,
    );
    assert.equal(bob.allowed, false);
    assert.match(bob.message, /is for members of sre .*bob is in none of them/);
    const none = await create([accessRequest()], glass(), users.alice);
    assert.match(none.message, /no AccessPolicy of namespace team-a allows break-glass/);
  });
  it("refuses break-glass on someone else's request", async () => {
    const decision = await create(objects(), glass({ by: 'carol' }), users.carol);
    assert.equal(decision.allowed, false);
    assert.match(decision.message, /break-glass is for your own AccessRequest only/);
  });
  it('refuses a request whose window is longer than maxValidFor', async () => {
    const decision = await create([accessRequest({ validFor: '3h' }), glassPolicy], glass(), users.alice);
    assert.match(decision.message, /allows at most 1h, the request asks for 3h/);
  });
  it('does not overturn a denial', async () => {
    const denied = accessGrant({ name: 'd', grantedBy: 'carol', status: 'denied' });
    const decision = await create(objects(denied), glass(), users.alice);
    assert.equal(decision.allowed, false);
    assert.match(decision.message, /was denied by carol; break-glass does not overturn a denial/);
  });
  it('names the requester as the request spells them, so readers without --username-prefix see a self-grant', async () => {
    const oidcAlice = { ...users.alice, username: 'oidc:alice' };
    const prefixed = (object: AccessGrant) =>
      grant(
        objectReview(object, { user: oidcAlice }),
        lookupOf(objects(), ['carol', 'alice', 'dave']),
        context({ usernamePrefix: 'oidc:' }),
      );
    const respelled = await prefixed(glass({ by: 'oidc:alice' }));
    assert.equal(respelled.allowed, false);
    assert.match(respelled.message, /a break-glass grant names you as the request does \("alice"\), got "oidc:alice"/);
    const spelled = await prefixed(glass());
    assert.equal(spelled.allowed, true, spelled.message);
    assert.equal(needsReview(accessRequest(), [glass()], ''), true, 'the plugin, without the prefix, lists it');
  });
  it('an approver may still deny a request granted by break-glass; the denial wins and stops it', async () => {
    const denial = accessGrant({ name: 'alice-web-0-deny', grantedBy: 'carol', status: 'denied' });
    const decision = await create(objects(glass()), denial, users.carol);
    assert.equal(decision.allowed, true, decision.message);
    const state = evaluateGrant(accessRequest(), [glass(), denial], NOW, '', [glassPolicy], users.alice);
    assert.equal(state.state, 'denied');
    const again = await create(objects(glass(), denial), glass({ name: 'again' }), users.alice);
    assert.match(again.message, /break-glass does not overturn a denial/);
  });
  it('a plain self-grant is still refused, and tells a member about break-glass', async () => {
    const decision = await create(objects(), accessGrant({ grantedBy: 'alice' }), users.alice);
    assert.equal(decision.allowed, false);
    assert.match(
      decision.message,
      /you cannot grant your own AccessRequest "alice-web-0"; another approver has to; in an emergency you may break glass/,
    );
    const outsider = await create([accessRequest(), policy({})], accessGrant({ grantedBy: 'alice' }), users.alice);
    assert.doesNotMatch(outsider.message, /break glass/);
  });
});

describe('reviewing a break-glass grant', () => {
  it('another approver reviews it once, audited as audit-reviewed', async () => {
    const decision = await create([accessRequest(), glassPolicy, glass()], review(), users.carol);
    assert.equal(decision.allowed, true, decision.message);
    assert.deepEqual(
      decision.audit.map((event) => event.type),
      ['audit-reviewed'],
    );
    const again = await create([accessRequest(), glassPolicy, glass(), review('dave')], review(), users.carol);
    assert.equal(again.allowed, false);
    assert.match(again.message, /was already reviewed by dave/);
  });
  it('the requester cannot review their own', async () => {
    const decision = await create([accessRequest(), glassPolicy, glass()], review('alice'), users.alice);
    assert.equal(decision.allowed, false);
    assert.match(
      decision.message,
      /you cannot review your own break-glass AccessRequest "alice-web-0"; another approver has to/,
    );
  });
  it('only a request granted by break-glass is reviewed', async () => {
    const decision = await create(
      [accessRequest(), glassPolicy, accessGrant({ grantedBy: 'dave' })],
      review(),
      users.carol,
    );
    assert.equal(decision.allowed, false);
    assert.match(decision.message, /was not granted by break-glass, so there is nothing to review/);
  });
  it('the approvers a policy names apply to reviews', async () => {
    const named = policy({ approvers: { users: ['dave'] }, breakGlass: { groups: ['developers'] } });
    const decision = await create([accessRequest(), named, glass()], review(), users.carol);
    assert.equal(decision.allowed, false);
    assert.match(decision.message, /names the approvers/);
  });
  it('needsReview until reviewed, by someone other than the requester', () => {
    assert.equal(needsReview(accessRequest(), [glass()], ''), true);
    assert.equal(needsReview(accessRequest(), [glass(), review()], ''), false);
    assert.equal(needsReview(accessRequest(), [glass(), review('alice')], ''), true, 'a self-review does not count');
    assert.equal(needsReview(accessRequest(), [accessGrant()], ''), false, 'no break-glass, nothing to review');
    assert.equal(reviewState(accessRequest(), [glass(), review()], '')?.reviewedBy?.spec.grantedBy.username, 'carol');
  });
});

describe('exec with a break-glass grant', () => {
  it('is allowed for a member and audited as audit-exec and audit-break-glass, with annotations', async () => {
    const decision = await exec(execReview(), lookupOf([accessRequest(), glassPolicy, glass()]), context());
    assert.equal(decision.allowed, true, decision.message);
    assert.match(decision.message, /break-glass under AccessPolicy team-a\/production/);
    assert.deepEqual(
      decision.audit.map((event) => event.type),
      ['audit-exec', 'audit-break-glass'],
    );
    const event = decision.audit[1];
    assert.equal(event?.type === 'audit-break-glass' && event.data.phase, 'used');
    assert.equal(decision.auditAnnotations?.['break-glass-policy'], 'team-a/production');
    assert.equal(decision.auditAnnotations?.['access-grants'], 'team-a/alice-web-0-grant');
  });
  it('is refused when the user is no longer in the group', async () => {
    const decision = await exec(
      execReview({ user: { username: 'alice', groups: ['system:authenticated'] } }),
      lookupOf([accessRequest(), glassPolicy, glass()]),
      context(),
    );
    assert.equal(decision.allowed, false);
    assert.match(decision.message, /the break-glass AccessGrant alice-web-0-grant does not count/);
  });
});

describe('the reconciler and cleanup with break-glass', () => {
  it('makes no RoleBinding for a break-glass grant', () => {
    const state = desiredRoleBindings({
      requests: [accessRequest({ validFor: '1h' })],
      grants: [glass()],
      policies: [glassPolicy],
      now: NOW,
      config: { grantedRoleName: 'exec', grantedRoleKind: 'ClusterRole', usernamePrefix: '', ungatedNamespaces: [] },
    });
    assert.deepEqual(state.bindings, []);
  });
  it('keeps an expired, unreviewed break-glass request as long as a used one, then deletes it', () => {
    const request = accessRequest({ validFor: '10m', createdAt: minutes(-60) });
    const old = glass({ createdAt: minutes(-50) });
    const input = {
      requests: [request],
      grants: [old],
      policies: [glassPolicy],
      now: NOW,
      deleteAfterMs: 2 * 3_600_000,
    };
    const kept = dueForCleanup(input);
    assert.deepEqual(kept.deletions, [], 'expired at -40m but unreviewed: kept, grant too');
    assert.equal(kept.nextDueAt?.toISOString(), minutes(60));
    const reviewed = dueForCleanup({ ...input, grants: [old, review()] });
    assert.deepEqual(
      reviewed.deletions.map((d) => `${d.kind} ${d.reason}`),
      ['AccessRequest expired', 'AccessGrant orphaned', 'AccessGrant orphaned'],
      'reviewed: expired requests go at once, as always',
    );
    const later = dueForCleanup({ ...input, now: new Date(NOW.getTime() + 61 * 60_000) });
    assert.match(later.deletions[0]?.message ?? '', /a break-glass request never reviewed/);
  });
  it('keeps the break-glass grant with its request when the policy no longer allows it', () => {
    const plan = dueForCleanup({
      requests: [accessRequest({ createdAt: minutes(-5) })],
      grants: [glass({ createdAt: minutes(-4) })],
      policies: [],
      now: NOW,
      deleteAfterMs: 3_600_000,
    });
    assert.deepEqual(plan.deletions, []);
  });
});

describe('deleting an unreviewed break-glass request or grant', () => {
  const del = (
    concern: typeof grant,
    object: unknown,
    objects: unknown[],
    user: { username: string; groups?: string[] },
  ) =>
    concern(
      objectReview(object as AccessGrant, { user, operation: 'DELETE' }),
      lookupOf(objects, ['carol', 'alice']),
      context(),
    );

  it('the requester cannot withdraw it, nor delete its break-glass grant, before a review', async () => {
    const objects = [accessRequest(), glassPolicy, glass()];
    const withdraw = await del(requestConcern, accessRequest(), objects, users.alice);
    assert.equal(withdraw.allowed, false);
    assert.match(
      withdraw.message,
      /granted by your break-glass and nobody reviewed it yet.*kubectl request review -n team-a alice-web-0/,
    );
    const revoke = await del(grant, glass(), objects, users.alice);
    assert.equal(revoke.allowed, false);
    assert.match(revoke.message, /nobody reviewed it yet/);
  });
  it('after the review, or for another approver, it goes as usual', async () => {
    const reviewed = [accessRequest(), glassPolicy, glass(), review()];
    assert.equal((await del(requestConcern, accessRequest(), reviewed, users.alice)).allowed, true);
    const objects = [accessRequest(), glassPolicy, glass()];
    assert.equal((await del(grant, glass(), objects, users.carol)).allowed, true);
  });
});

describe('where the break-glass audit events go', () => {
  it('the audit webhook gets audit-granted (marked breakGlass), never the types the seed does not know', async () => {
    const decision = await create([accessRequest(), glassPolicy], glass(), users.alice);
    const sent: string[] = [];
    const sink = auditSinkOver('https://127.0.0.1/hook', async (req) => {
      sent.push(req.url);
      assert.equal((JSON.parse(req.body) as { accessGrant: AccessGrant }).accessGrant.spec.breakGlass, true);
      return { status: 200, statusText: 'OK', body: '' };
    });
    for (const event of decision.audit) await sink.record(event);
    assert.deepEqual(sent, ['https://127.0.0.1/hook?type=audit-granted']);
  });
  it('the audit log gets a loud line for each', async () => {
    const decision = await create([accessRequest(), glassPolicy], glass(), users.alice);
    const line = JSON.parse(auditLine(decision.audit[1]!, NOW)) as Record<string, unknown>;
    assert.equal(line.type, 'audit-break-glass');
    assert.equal(line.verdict, 'break-glass');
    assert.equal(line.policy, 'team-a/production');
    assert.equal(line.reason, 'prod is down, INC-7');
  });
});
