// The status writer's schedule (adapters/kubernetes/status-schedule.ts) plans only what changed: for random
// sequences of cache changes (requests created, re-created, deleted, consumed; grants and denials,
// break-glass grants; policies that require two approvals, pre-approve, break or go away) and clock
// advances, each pass writes exactly what a full planStatuses pass at the same moment would, and
// says the same nextChangeAt. The caches are ObservedStores, as adapters/kubernetes/caches.ts has them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ObservedStore } from '../../../adapters/kubernetes/observed.ts';
import { readPolicy, type LoadedPolicy } from '../../../functions/policy.ts';
import type { AccessGrant, AccessRequest } from '../../../functions/schemas.ts';
import { planStatuses, type StatusPlan, type StatusWrite } from '../../../functions/status/index.ts';
import { StatusSchedule } from '../../../adapters/kubernetes/status-schedule.ts';
import { accessGrant, accessRequest, NOW } from '../../support/builders.ts';

const NAMESPACES = ['team-a', 'team-b'] as const;
const REQUESTS = ['r0', 'r1', 'r2'] as const;

type Op =
  | { op: 'request'; namespace: string; name: string; validFor: string; maxUses?: number }
  | { op: 'deleteRequest'; namespace: string; name: string }
  | { op: 'deleting'; namespace: string; name: string }
  | { op: 'consume'; namespace: string; name: string }
  | {
      op: 'grant';
      namespace: string;
      grantFor: string;
      name: string;
      by: string;
      status: 'granted' | 'denied';
      rightUid: boolean;
      validFor?: string;
      breakGlass: boolean;
    }
  | { op: 'deleteGrant'; namespace: string; name: string }
  | { op: 'policy'; namespace: string; name: string; kind: 'two' | 'preApprove' | 'breakGlass' | 'malformed' }
  | { op: 'deletePolicy'; namespace: string; name: string }
  | { op: 'advance'; ms: number }
  | { op: 'pass'; fails: boolean };

const namespace = fc.constantFrom(...NAMESPACES);
const requestName = fc.constantFrom(...REQUESTS);
const grantName = fc.constantFrom('g0', 'g1', 'g2', 'g3');
const policyName = fc.constantFrom('p0', 'p1');

const op: fc.Arbitrary<Op> = fc.oneof(
  // Weighted so that most sequences grant, consume and expire something between passes.
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('request' as const),
      namespace,
      name: requestName,
      validFor: fc.constantFrom('', '1m', '5m'),
      maxUses: fc.option(fc.constant(2), { nil: undefined }),
    }),
  },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('consume' as const), namespace, name: requestName }) },
  fc.record({ op: fc.constant('deleteRequest' as const), namespace, name: requestName }),
  fc.record({ op: fc.constant('deleting' as const), namespace, name: requestName }),
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('grant' as const),
      namespace,
      grantFor: requestName,
      name: grantName,
      by: fc.constantFrom('carol', 'dave', 'alice'),
      status: fc.constantFrom('granted' as const, 'granted' as const, 'denied' as const),
      rightUid: fc.constantFrom(true, true, true, false),
      validFor: fc.option(fc.constantFrom('30s', '2m'), { nil: undefined }),
      breakGlass: fc.constantFrom(false, false, true),
    }),
  },
  fc.record({ op: fc.constant('deleteGrant' as const), namespace, name: grantName }),
  fc.record({
    op: fc.constant('policy' as const),
    namespace,
    name: policyName,
    kind: fc.constantFrom('two' as const, 'preApprove' as const, 'breakGlass' as const, 'malformed' as const),
  }),
  fc.record({ op: fc.constant('deletePolicy' as const), namespace, name: policyName }),
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('advance' as const),
      ms: fc.oneof(fc.integer({ min: 0, max: 400_000 }), fc.constant(0), fc.constant(60_000)),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ op: fc.constant('pass' as const), fails: fc.constantFrom(false, false, false, true) }),
  },
);

function policyOf(namespace: string, name: string, kind: 'two' | 'preApprove' | 'breakGlass' | 'malformed') {
  const spec = {
    two: { requiredApprovals: 2 },
    preApprove: { preApproved: [{ command: ['cat', '/app/config'] }] },
    breakGlass: { breakGlass: { groups: ['oncall'], maxValidFor: '10m' } },
    malformed: { requiredApprovals: 99 },
  }[kind];
  return readPolicy({ kind: 'AccessPolicy', metadata: { name, namespace, uid: `uid-${name}` }, spec })!;
}

/** The caches, the schedule they feed, and a clock. */
function world(fullIntervalMs = Number.POSITIVE_INFINITY, chunk?: number) {
  const schedule = new StatusSchedule(fullIntervalMs, chunk);
  const requests = new ObservedStore<AccessRequest, never>({}, (before, after) =>
    schedule.note({ kind: 'AccessRequest', before, after }),
  );
  const grants = new ObservedStore<AccessGrant, 'grantFor'>({ grantFor: (g) => [g.spec.grantFor] }, (before, after) =>
    schedule.note({ kind: 'AccessGrant', before, after }),
  );
  const policies = new ObservedStore<LoadedPolicy, never>({}, (before, after) =>
    schedule.note({ kind: 'AccessPolicy', before, after }),
  );
  let now = NOW.getTime();
  let uids = 0;
  const iso = () => new Date(now).toISOString();

  function apply(o: Op): void {
    switch (o.op) {
      case 'request':
        // A new object (or one re-created under the name): a new uid.
        requests.upsert(
          accessRequest({
            namespace: o.namespace,
            name: o.name,
            validFor: o.validFor,
            uid: `uid-${o.name}-${++uids}`,
            createdAt: iso(),
            ...(o.maxUses !== undefined ? { maxUses: o.maxUses } : {}),
          }),
        );
        return;
      case 'deleteRequest':
        requests.remove(o.namespace, o.name);
        return;
      case 'deleting': {
        const request = requests.get(o.namespace, o.name);
        if (request) requests.upsert({ ...request, metadata: { ...request.metadata, deletionTimestamp: iso() } });
        return;
      }
      case 'consume': {
        const request = requests.get(o.namespace, o.name);
        if (request)
          requests.upsert({
            ...request,
            status: { ...request.status, uses: (request.status?.uses ?? 0) + 1, usedAt: iso() },
          });
        return;
      }
      case 'grant': {
        const uid = requests.get(o.namespace, o.grantFor)?.metadata.uid ?? 'uid-none';
        const grant = accessGrant({
          namespace: o.namespace,
          name: o.name,
          grantFor: o.grantFor,
          grantedBy: o.by,
          status: o.status,
          grantForUID: o.rightUid ? uid : 'uid-other',
          createdAt: iso(),
          ...(o.validFor ? { validFor: o.validFor, reason: 'incident' } : { reason: 'incident' }),
        });
        grants.upsert(o.breakGlass ? { ...grant, spec: { ...grant.spec, breakGlass: true } } : grant);
        return;
      }
      case 'deleteGrant':
        grants.remove(o.namespace, o.name);
        return;
      case 'policy':
        policies.upsert(policyOf(o.namespace, o.name, o.kind));
        return;
      case 'deletePolicy':
        policies.remove(o.namespace, o.name);
        return;
      case 'advance':
        now += o.ms;
        return;
      case 'pass':
        return;
    }
  }

  const full = (): StatusPlan =>
    planStatuses({
      requests: requests.values(),
      grants: grants.values(),
      policies: policies.values(),
      now: new Date(now),
    });

  /** One pass of the writer: plan, then what the API server answers goes back into the cache. */
  function pass(fails = false): StatusPlan {
    const plan = schedule.plan({
      requests,
      grantsOf: (ns, name) => grants.byIndex('grantFor', ns, name),
      policies: policies.values(),
      now: new Date(now),
    });
    if (fails) schedule.planAll();
    else for (const write of plan.writes) written(write);
    return plan;
  }

  /**
   * Passes at one moment until a full pass in chunks has ended (each chunk's writes applied before
   * the next, as the writer does): all they write, and when the last says to look again.
   */
  function passes(): StatusPlan & { count: number } {
    const writes: StatusWrite[] = [];
    let count = 0;
    for (;;) {
      const plan = pass();
      count++;
      writes.push(...plan.writes);
      if (!schedule.sweeping)
        return { writes, count, ...(plan.nextChangeAt ? { nextChangeAt: plan.nextChangeAt } : {}) };
      assert.equal(plan.nextChangeAt?.getTime(), now, 'a pass in the middle of a full pass is due again at once');
    }
  }

  function written(write: StatusWrite): void {
    const request = requests.get(write.namespace, write.name)!;
    const status = { ...request.status } as Record<string, unknown>;
    for (const [key, value] of Object.entries(write.patch)) {
      if (value === null) delete status[key];
      else status[key] = value;
    }
    requests.upsert({ ...request, status: status as AccessRequest['status'] });
  }

  return { apply, full, pass, passes, schedule, requests, grants, policies, now: () => now };
}

const sorted = (writes: readonly StatusWrite[]) =>
  [...writes].sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));

function assertSame(plan: StatusPlan, expected: StatusPlan, ops: readonly Op[]): void {
  assert.deepEqual(sorted(plan.writes), sorted(expected.writes), JSON.stringify(ops));
  assert.equal(plan.nextChangeAt?.getTime(), expected.nextChangeAt?.getTime(), JSON.stringify(ops));
}

/** carol's granted AccessGrant `name` for request `grantFor` in team-a, bound to its uid. */
const carolGrants = (grantFor: string, name: string): Op => ({
  op: 'grant',
  namespace: 'team-a',
  grantFor,
  name,
  by: 'carol',
  status: 'granted',
  rightUid: true,
  breakGlass: false,
});

describe('StatusSchedule', () => {
  it('writes, pass after pass, exactly what a full planStatuses pass at the same moment would', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 80, size: 'max' }), (ops) => {
        const w = world();
        for (const o of ops) {
          w.apply(o);
          if (o.op !== 'pass' && o.op !== 'advance') continue;
          const expected = w.full();
          assertSame(w.pass(o.op === 'pass' && o.fails), expected, ops);
        }
        // At rest: nothing left that a full pass would write.
        const expected = w.full();
        assertSame(w.pass(), expected, ops);
      }),
      { numRuns: 400 },
    );
  });

  it('spreads a full pass over chunks, and together they write what one full pass would (property)', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 80, size: 'max' }), (ops) => {
        // A full pass every 2 minutes of the generated clock, in chunks of 2 requests.
        const w = world(120_000, 2);
        for (const o of ops) {
          w.apply(o);
          if (o.op !== 'pass' && o.op !== 'advance') continue;
          const expected = w.full();
          if (o.op === 'pass' && o.fails) {
            w.pass(true);
            continue;
          }
          assertSame(w.passes(), expected, ops);
        }
        const expected = w.full();
        assertSame(w.passes(), expected, ops);
      }),
      { numRuns: 300 },
    );
  });

  it('plans a full pass over 5 requests in 3 passes of 2, each due again at once but the last', () => {
    const w = world(Number.POSITIVE_INFINITY, 2);
    for (const name of ['r1', 'r2', 'r3', 'r4', 'r5'])
      w.apply({ op: 'request', namespace: 'team-a', name, validFor: '5m' });
    const { writes, count } = w.passes();
    assert.equal(count, 3);
    assert.equal(writes.length, 5);
    assert.equal(w.schedule.sweeping, false);
    assert.equal(w.pass().writes.length, 0, 'at rest after the full pass');
  });

  it('plans a request again when a grant naming it comes, and not the others', () => {
    const w = world();
    for (const name of REQUESTS) w.apply({ op: 'request', namespace: 'team-a', name, validFor: '5m' });
    assert.equal(w.pass().writes.length, 3);
    assert.deepEqual(w.pass().writes, []);
    w.apply(carolGrants('r1', 'g0'));
    const plan = w.pass();
    assert.deepEqual(
      plan.writes.map((write) => [write.name, write.patch.state]),
      [['r1', 'Granted']],
    );
    assert.equal(plan.nextChangeAt?.getTime(), NOW.getTime() + 5 * 60_000);
  });

  it('writes Expired when a window ends, with no event', () => {
    const w = world();
    w.apply({ op: 'request', namespace: 'team-a', name: 'r0', validFor: '1m' });
    w.apply(carolGrants('r0', 'g0'));
    assert.equal(w.pass().writes[0]?.patch.state, 'Granted');
    w.apply({ op: 'advance', ms: 59_999 });
    assert.deepEqual(w.pass().writes, []);
    w.apply({ op: 'advance', ms: 1 });
    const plan = w.pass();
    assert.deepEqual(
      plan.writes.map((write) => write.patch.state),
      ['Expired'],
    );
    assert.equal(plan.nextChangeAt, undefined);
  });

  it('plans every request of a namespace when one of its policies changes, and none of another', () => {
    const w = world();
    for (const ns of NAMESPACES) w.apply({ op: 'request', namespace: ns, name: 'r0', validFor: '' });
    w.pass();
    w.apply({ op: 'policy', namespace: 'team-b', name: 'p0', kind: 'two' });
    assert.deepEqual(
      w.pass().writes.map((write) => [write.namespace, write.patch.approvals]),
      [['team-b', '0/2']],
    );
    w.apply({ op: 'deletePolicy', namespace: 'team-b', name: 'p0' });
    assert.deepEqual(
      w.pass().writes.map((write) => [write.namespace, write.patch.approvals]),
      [['team-b', null]],
    );
  });

  it('forgets the window of a request deleted in a namespace whose policy changed (found by the property)', () => {
    const w = world();
    w.apply({ op: 'policy', namespace: 'team-b', name: 'p0', kind: 'preApprove' });
    w.apply({ op: 'request', namespace: 'team-b', name: 'r0', validFor: '5m' });
    assert.equal(w.pass().nextChangeAt?.getTime(), NOW.getTime() + 5 * 60_000);
    w.apply({ op: 'deletePolicy', namespace: 'team-b', name: 'p0' });
    w.apply({ op: 'deleteRequest', namespace: 'team-b', name: 'r0' });
    assert.deepEqual(w.pass(), { writes: [] });
  });

  it('plans a request again when its grant is deleted', () => {
    const w = world();
    w.apply({ op: 'request', namespace: 'team-a', name: 'r0', validFor: '' });
    w.apply(carolGrants('r0', 'g0'));
    w.pass();
    w.pass();
    w.apply({ op: 'deleteGrant', namespace: 'team-a', name: 'g0' });
    assert.deepEqual(
      w.pass().writes.map((write) => write.patch.state),
      ['Pending'],
    );
  });

  it('writes a used one-shot request as Used once the use is cached', () => {
    const w = world();
    w.apply({ op: 'request', namespace: 'team-a', name: 'r0', validFor: '' });
    w.apply(carolGrants('r0', 'g0'));
    w.pass();
    w.apply({ op: 'consume', namespace: 'team-a', name: 'r0' });
    assert.deepEqual(
      w.pass().writes.map((write) => write.patch.state),
      ['Used'],
    );
  });

  it('plans every request again after a failed write, and on its full interval', () => {
    const w = world(60_000);
    for (const name of REQUESTS) w.apply({ op: 'request', namespace: 'team-a', name, validFor: '' });
    assert.equal(w.pass(true).writes.length, 3);
    // Nothing was written: the next pass writes all three again.
    assert.equal(w.pass().writes.length, 3);
    // The next pass plans the three written (the API server's answers went into the cache) and writes nothing.
    assert.deepEqual(w.pass().writes, []);
    // A status changed behind the caches' back (no event) is found by the next full pass only.
    const r0 = w.requests.get('team-a', 'r0')!;
    r0.status = {};
    assert.deepEqual(w.pass().writes, []);
    w.apply({ op: 'advance', ms: 60_000 });
    assert.deepEqual(
      w.pass().writes.map((write) => write.name),
      ['r0'],
    );
  });
});
