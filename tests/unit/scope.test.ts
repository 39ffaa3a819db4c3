// Grant scope: maxUses (a use counter, exactly once per use), an approver narrowing a request
// (a shorter window, fewer uses, never wider), pinning a request to one pod object, and the
// auditAnnotations that name what allowed an exec.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as v from 'valibot';
import { evaluateGrant, grantScope } from '../../functions/access.ts';
import { debug } from '../../functions/debug/index.ts';
import { exec } from '../../functions/exec/index.ts';
import { grant } from '../../functions/grant/index.ts';
import { readPolicy } from '../../functions/policy.ts';
import { AccessRequest, type AccessGrant } from '../../functions/schemas.ts';
import type { Decision } from '../../functions/types.ts';
import { MemoryCluster } from '../../adapters/memory/lookup.ts';
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
import { debugRequest, review } from './friends/_builders.ts';

const at = (offsetMinutes: number) => new Date(NOW.getTime() + offsetMinutes * 60_000);

describe('evaluateGrant counts uses', () => {
  it('a one-shot request allows one use: granted with 0 of 1, used once status.uses says 1', () => {
    const fresh = evaluateGrant(accessRequest(), [accessGrant()], NOW);
    assert.equal(fresh.state, 'granted');
    assert.equal(fresh.state === 'granted' && fresh.maxUses, 1);
    assert.equal(fresh.state === 'granted' && fresh.uses, 0);
    const used = evaluateGrant(accessRequest({ status: { uses: 1, usedAt: minutes(-1) } }), [accessGrant()], NOW);
    assert.equal(used.state, 'used');
    assert.equal(used.state === 'used' && used.usedAt.toISOString(), minutes(-1));
  });

  it('reads a one-shot request marked used before uses were counted (usedAt alone) as used', () => {
    const state = evaluateGrant(accessRequest({ status: { usedAt: minutes(-1) } }), [accessGrant()], NOW);
    assert.equal(state.state, 'used');
  });

  it('maxUses: 3 is granted with 2 uses, used with 3', () => {
    const two = evaluateGrant(accessRequest({ maxUses: 3, status: { uses: 2 } }), [accessGrant()], NOW);
    assert.deepEqual(two.state === 'granted' && [two.uses, two.maxUses], [2, 3]);
    const three = evaluateGrant(
      accessRequest({ maxUses: 3, status: { uses: 3, usedAt: minutes(-2) } }),
      [accessGrant()],
      NOW,
    );
    assert.equal(three.state, 'used');
    assert.deepEqual(three.state === 'used' && [three.uses, three.maxUses], [3, 3]);
  });

  it('a time-bound request without maxUses counts nothing; with it, uses run out inside the window', () => {
    const open = evaluateGrant(accessRequest({ validFor: '1h', status: { uses: 40 } }), [accessGrant()], NOW);
    assert.equal(open.state, 'granted');
    assert.equal(open.state === 'granted' && open.maxUses, undefined);
    const counted = evaluateGrant(
      accessRequest({ validFor: '1h', maxUses: 2, status: { uses: 2, usedAt: minutes(-1) } }),
      [accessGrant()],
      NOW,
    );
    assert.equal(counted.state, 'used');
    const over = evaluateGrant(accessRequest({ validFor: '1h', maxUses: 2 }), [accessGrant()], at(60));
    assert.equal(over.state, 'expired');
  });
});

describe('an approver narrows a request, never widens it', () => {
  const timeBound = accessRequest({ validFor: '1h', maxUses: 5 });

  it('a shorter window and fewer uses on the grant apply', () => {
    const state = evaluateGrant(timeBound, [accessGrant({ validFor: '15m', maxUses: 2 })], NOW);
    assert.equal(state.state, 'granted');
    assert.equal(state.state === 'granted' && state.maxUses, 2);
    // The grant was created 10 minutes ago: its 10 minutes are over now.
    assert.equal(evaluateGrant(timeBound, [accessGrant({ validFor: '10m' })], NOW).state, 'expired');
    assert.equal(
      evaluateGrant(timeBound, [accessGrant({ validFor: '11m' })], NOW).state === 'granted',
      true,
      'a minute left',
    );
  });

  it('a wider value that slipped past admission is cut back to the request', () => {
    assert.deepEqual(grantScope(timeBound, [accessGrant({ validFor: '5h', maxUses: 50 })]), {
      windowMs: 3_600_000,
      maxUses: 5,
    });
    // A one-shot request stays one use: a window on its grant is ignored.
    assert.deepEqual(grantScope(accessRequest(), [accessGrant({ validFor: '1h', maxUses: 4 })]), { maxUses: 1 });
  });

  it('with several approvals the narrowest counted one applies', () => {
    const two = readPolicy({
      apiVersion: 'kube-request-access.io/v1',
      kind: 'AccessPolicy',
      metadata: { name: 'two', namespace: 'team-a' },
      spec: { requiredApprovals: 2 },
    })!;
    const grants: AccessGrant[] = [
      accessGrant({ name: 'g1', maxUses: 4, validFor: '50m', createdAt: minutes(-5) }),
      accessGrant({ name: 'g2', grantedBy: 'dave', maxUses: 3, validFor: '55m', createdAt: minutes(-4) }),
    ];
    assert.deepEqual(grantScope(timeBound, grants), { windowMs: 50 * 60_000, maxUses: 3 });
    const state = evaluateGrant(timeBound, grants, NOW, '', [two]);
    assert.equal(state.state, 'granted');
    // The window runs from the approval that completed it (g2, 4 minutes ago), for the narrowest 50m.
    assert.equal(state.state === 'granted' && state.expiresAt?.toISOString(), minutes(46));
    assert.equal(state.state === 'granted' && state.maxUses, 3);
  });

  it('a grant with an unparseable validFor makes the request unusable (fail closed)', () => {
    const bad = accessGrant();
    bad.spec.validFor = 'soon';
    const state = evaluateGrant(timeBound, [bad], NOW);
    assert.equal(state.state, 'invalid');
  });

  const cases: { name: string; request: AccessRequest; grant: AccessGrant; allowed: boolean; message?: RegExp }[] = [
    { name: 'allows a shorter window', request: timeBound, grant: accessGrant({ validFor: '10m' }), allowed: true },
    { name: 'allows fewer uses', request: timeBound, grant: accessGrant({ maxUses: 2 }), allowed: true },
    {
      name: 'allows any number of uses on a time-bound request without maxUses',
      request: accessRequest({ validFor: '1h' }),
      grant: accessGrant({ maxUses: 100 }),
      allowed: true,
    },
    {
      name: 'refuses a longer window',
      request: timeBound,
      grant: accessGrant({ validFor: '2h' }),
      allowed: false,
      message: /spec.validFor "2h" is longer than AccessRequest alice-web-0 asks for \(1h\).*give at most 1h/,
    },
    {
      name: 'refuses more uses',
      request: timeBound,
      grant: accessGrant({ maxUses: 6 }),
      allowed: false,
      message: /spec.maxUses 6 is more than AccessRequest alice-web-0 asks for \(5\).*give at most 5/,
    },
    {
      name: 'refuses a window on a one-shot request',
      request: accessRequest(),
      grant: accessGrant({ validFor: '10m' }),
      allowed: false,
      message: /one-shot \(no validFor\), and a window cannot be added/,
    },
    {
      name: 'refuses uses on a one-shot request',
      request: accessRequest(),
      grant: accessGrant({ maxUses: 2 }),
      allowed: false,
      message: /allows a single use already/,
    },
    {
      name: 'refuses a zero window',
      request: timeBound,
      grant: accessGrant({ validFor: '0' }),
      allowed: false,
      message: /not a positive Go duration/,
    },
    {
      name: 'refuses narrowing on a denial',
      request: timeBound,
      grant: accessGrant({ status: 'denied', maxUses: 1 }),
      allowed: false,
      message: /a denial carries neither/,
    },
  ];
  for (const c of cases) {
    it(`grant review ${c.name}`, async () => {
      const decision = await grant(objectReview(c.grant, { user: users.carol }), lookupOf([c.request]), context());
      assert.equal(decision.allowed, c.allowed, decision.message);
      if (c.message) assert.match(decision.message, c.message);
    });
  }
});

/** Runs the effects of `decision` against `cluster`, as the shell does; false when the use was lost. */
async function carryOut(cluster: MemoryCluster, decision: Decision): Promise<boolean> {
  try {
    for (const effect of decision.effects) await cluster.run(effect);
    return true;
  } catch {
    return false;
  }
}

describe('maxUses at exec time', () => {
  it('allows use 1, 2 and 3 of 3, each asking to count one, and denies the fourth', async () => {
    const cluster = new MemoryCluster([accessRequest({ maxUses: 3 }), accessGrant()]);
    const messages: string[] = [];
    for (let i = 0; i < 3; i++) {
      const decision = await exec(execReview(), cluster, context());
      assert.equal(decision.allowed, true, decision.message);
      assert.equal(decision.effects[0]?.type, 'consume-request');
      assert.equal(decision.effects[0]?.maxUses, 3);
      assert.equal(decision.auditAnnotations?.['access-request-use'], `${i + 1}/3`);
      messages.push(decision.message);
      assert.equal(await carryOut(cluster, decision), true);
    }
    assert.match(messages[0]!, /use 1 of 3$/);
    assert.match(messages[2]!, /use 3 of 3, the last$/);
    const fourth = await exec(execReview(), cluster, context());
    assert.equal(fourth.allowed, false);
    assert.match(fourth.message, /is used up: all 3 uses it allows went through/);
    const request = await cluster.accessRequest('team-a', 'alice-web-0');
    assert.equal(request?.status?.uses, 3);
    assert.ok(request?.status?.usedAt, 'usedAt marks the last use');
  });

  it('of five reviews decided on the same read (racing replicas), exactly three get a use', async () => {
    const cluster = new MemoryCluster([accessRequest({ maxUses: 3 }), accessGrant()]);
    const decisions = await Promise.all(Array.from({ length: 5 }, () => exec(execReview(), cluster, context())));
    assert.ok(
      decisions.every((d) => d.allowed && d.effects[0]?.resourceVersion === decisions[0]!.effects[0]!.resourceVersion),
    );
    const won = await Promise.all(decisions.map((d) => carryOut(cluster, d)));
    assert.equal(won.filter(Boolean).length, 3, `uses won: ${won.join(', ')}`);
    assert.equal((await cluster.accessRequest('team-a', 'alice-web-0'))?.status?.uses, 3);
  });

  it('a status write by someone else meanwhile (conditions) does not cost the use', async () => {
    const cluster = new MemoryCluster([accessRequest(), accessGrant()]);
    const decision = await exec(execReview(), cluster, context());
    cluster.setStatus('team-a', 'alice-web-0', { conditions: [{ type: 'Granted', status: 'True' }] } as never);
    assert.equal(await carryOut(cluster, decision), true);
    const status = (await cluster.accessRequest('team-a', 'alice-web-0'))?.status as Record<string, unknown>;
    assert.equal(status.uses, 1);
    assert.deepEqual(status.conditions, [{ type: 'Granted', status: 'True' }], 'the other writer’s fields stay');
  });

  it('a time-bound request without maxUses is not counted; it is preferred over a counted one', async () => {
    const cluster = new MemoryCluster([
      accessRequest({ name: 'counted', validFor: '1h', maxUses: 2 }),
      accessGrant({ grantFor: 'counted' }),
      accessRequest({ name: 'open', validFor: '1h' }),
      accessGrant({ grantFor: 'open' }),
    ]);
    const decision = await exec(execReview(), cluster, context());
    assert.equal(decision.allowed, true);
    assert.deepEqual(decision.effects, []);
    assert.match(decision.message, /AccessRequest open/);
  });
});

describe('pinning a request to one pod object', () => {
  const pod = (uid: string) => ({ kind: 'Pod', metadata: { namespace: 'team-a', name: 'web-0', uid } });
  const pinned = accessRequest({ podUID: 'pod-uid-1' });

  it('allows the pinned pod', async () => {
    const decision = await exec(execReview(), lookupOf([pinned, accessGrant(), pod('pod-uid-1')]), context());
    assert.equal(decision.allowed, true, decision.message);
  });

  it('refuses a pod re-created under the same name, and a pod that is gone', async () => {
    const recreated = await exec(execReview(), lookupOf([pinned, accessGrant(), pod('pod-uid-2')]), context());
    assert.equal(recreated.allowed, false);
    assert.match(
      recreated.message,
      /AccessRequest alice-web-0 cannot be used: it is pinned to pod team-a\/web-0 with uid pod-uid-1, and the pod of that name now is another object \(uid pod-uid-2\): it was re-created; request again: kubectl request exec/,
    );
    const gone = await exec(execReview(), lookupOf([pinned, accessGrant()]), context());
    assert.equal(gone.allowed, false);
    assert.match(gone.message, /there is no such pod now/);
  });

  it('fails closed when the pod cannot be read, and reads it only for a pinned request', async () => {
    let reads = 0;
    const failing = {
      ...lookupOf([pinned, accessGrant()]),
      podUID: async () => {
        reads++;
        throw new Error('reading pod team-a/web-0: no answer from the API server within 2000 ms');
      },
    };
    await assert.rejects(exec(execReview(), failing, context()), /no answer/);
    const unpinned = { ...failing, ...lookupOf([accessRequest(), accessGrant()]), podUID: failing.podUID };
    reads = 0;
    assert.equal((await exec(execReview(), unpinned, context())).allowed, true);
    assert.equal(reads, 0, 'no pod read for a request that is not pinned');
  });

  it('kubectl debug compares the uid of the pod the review carries, without a read', async () => {
    const request = v.parse(AccessRequest, {
      ...debugRequest(),
      spec: { ...debugRequest().spec, forObject: { ...debugRequest().spec.forObject, uid: 'other-uid' } },
    });
    const lookup = {
      ...lookupOf([request, accessGrant()]),
      podUID: async () => assert.fail('the review carries the pod'),
    };
    const decision = await debug(review('ephemeralcontainers-review'), lookup, context());
    assert.equal(decision.allowed, false);
    assert.match(decision.message, /pinned to pod team-a\/web-0 with uid other-uid/);
  });
});

describe('auditAnnotations name what allowed the exec', () => {
  it('the request as namespace/name and uid, the grants as namespace/name, the use', async () => {
    const decision = await exec(
      execReview(),
      lookupOf([accessRequest({ maxUses: 2, status: { uses: 1 } }), accessGrant({ name: 'by-carol' })]),
      context(),
    );
    assert.deepEqual(decision.auditAnnotations, {
      'access-request': 'team-a/alice-web-0',
      'access-request-uid': 'uid-alice-web-0',
      'access-grants': 'team-a/by-carol',
      'access-request-use': '2/2',
    });
  });

  it('a time-bound request without maxUses carries no use count', async () => {
    const decision = await exec(execReview(), lookupOf([accessRequest({ validFor: '1h' }), accessGrant()]), context());
    assert.equal(decision.allowed, true);
    assert.equal(decision.auditAnnotations?.['access-request-use'], undefined);
  });
});
