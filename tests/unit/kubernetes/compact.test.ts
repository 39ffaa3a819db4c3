// The compact cache (adapters/kubernetes/compact.ts) keeps every field that a reader of the
// caches uses: the exec concern, evaluateGrant, the reconciler, cleanup and stats decide the same
// on full objects (labels, foreign annotations, managedFields, ownerReferences, finalizers, fields
// other features add to spec and status) and on their compacted copies; and every metadata field
// those readers touch (recorded through a Proxy) is there, with the same value.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import * as v from 'valibot';
import { compact } from '../../../adapters/kubernetes/compact.ts';
import { evaluateGrant } from '../../../functions/access.ts';
import { dueForCleanup } from '../../../functions/cleanup/index.ts';
import { exec } from '../../../functions/exec/index.ts';
import { readPolicy, type LoadedPolicy } from '../../../functions/policy.ts';
import { desiredRoleBindings } from '../../../functions/reconcile/index.ts';
import { AccessGrant, AccessRequest, CREATED_BY_ANNOTATION, type ObjectMeta } from '../../../functions/schemas.ts';
import { pendingByNamespace } from '../../../functions/stats/index.ts';
import { planStatuses } from '../../../functions/status/index.ts';
import { DEFAULT_UNGATED_NAMESPACES, type Lookup } from '../../../functions/types.ts';
import { context, execReview, NOW } from '../../support/builders.ts';

const at = (minutes: number) => new Date(NOW.getTime() + minutes * 60_000).toISOString();

/** What the API server adds to an object that no reader needs. */
const noise = {
  generation: 3,
  labels: { app: 'web', 'team.example.com/owner': 'payments' },
  finalizers: ['example.com/keep'],
  ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: 'owner-uid' }],
  managedFields: [{ manager: 'kubectl', operation: 'Update', fieldsType: 'FieldsV1', fieldsV1: { 'f:spec': {} } }],
};

function fullRequest(options: {
  name: string;
  user: string;
  validFor: string;
  createdAt: string;
  command: string[];
  deleting?: boolean;
  createdBy?: string;
  status?: Record<string, unknown>;
  extraSpec?: Record<string, unknown>;
}): AccessRequest {
  return v.parse(AccessRequest, {
    apiVersion: 'kube-request-access.io/v1',
    kind: 'AccessRequest',
    metadata: {
      name: options.name,
      namespace: 'team-a',
      uid: `uid-${options.name}`,
      resourceVersion: '17',
      creationTimestamp: options.createdAt,
      ...(options.deleting ? { deletionTimestamp: at(-1) } : {}),
      annotations: {
        'kubectl.kubernetes.io/restartedAt': at(-100),
        'example.com/ticket': 'OPS-1',
        ...(options.createdBy ? { [CREATED_BY_ANNOTATION]: options.createdBy } : {}),
      },
      ...noise,
    },
    spec: {
      userInfo: { username: options.user },
      forObject: {
        resource: { group: '', version: 'v1', resource: 'pods' },
        subResource: 'exec',
        name: 'web-0',
        namespace: 'team-a',
      },
      validFor: options.validFor,
      execOptions: { container: 'app', command: options.command, stdout: true, stderr: true },
      ...options.extraSpec,
    },
    ...(options.status ? { status: options.status } : {}),
  });
}

function fullGrant(options: {
  name: string;
  grantFor: string;
  grantForUID?: string;
  by: string;
  status: 'granted' | 'denied';
  createdAt: string;
  extraSpec?: Record<string, unknown>;
}): AccessGrant {
  return v.parse(AccessGrant, {
    apiVersion: 'kube-request-access.io/v1',
    kind: 'AccessGrant',
    metadata: {
      name: options.name,
      namespace: 'team-a',
      uid: `uid-grant-${options.name}`,
      resourceVersion: '23',
      creationTimestamp: options.createdAt,
      annotations: { 'example.com/note': 'x' },
      ...noise,
    },
    spec: {
      grantFor: options.grantFor,
      ...(options.grantForUID !== undefined ? { grantForUID: options.grantForUID } : {}),
      grantedBy: { username: options.by },
      ...options.extraSpec,
    },
    status: options.status,
  });
}

const twoApprovals = readPolicy({
  apiVersion: 'kube-request-access.io/v1',
  kind: 'AccessPolicy',
  metadata: { name: 'two', namespace: 'team-a', uid: 'uid-policy', resourceVersion: '5', ...noise },
  spec: { requiredApprovals: 2 },
})!;

const reconcileConfig = {
  grantedRoleName: 'exec',
  grantedRoleKind: 'ClusterRole' as const,
  usernamePrefix: '',
  ungatedNamespaces: DEFAULT_UNGATED_NAMESPACES,
};

/** Every decision the readers of the caches make over these objects, as JSON. */
async function decisions(requests: AccessRequest[], grants: AccessGrant[], policies: LoadedPolicy[]) {
  const now = NOW;
  const states = requests.map((request) =>
    evaluateGrant(
      request,
      grants.filter((g) => g.spec.grantFor === request.metadata.name),
      now,
      '',
      policies,
    ),
  );
  // The cached objects as they are (no parse: that would read every field), like index.ts's Lookup.
  const lookup: Lookup = {
    accessRequestsFor: async ({ namespace, pod, usernames }) =>
      requests.filter(
        (r) =>
          r.metadata.namespace === namespace &&
          r.spec.forObject.name === pod &&
          usernames.includes(r.spec.userInfo.username),
      ),
    accessRequest: async (namespace, name) =>
      requests.find((r) => r.metadata.namespace === namespace && r.metadata.name === name),
    grantsFor: async (namespace, name) =>
      grants.filter((g) => g.metadata.namespace === namespace && g.spec.grantFor === name),
    policiesFor: async (namespace) => policies.filter((p) => p.metadata.namespace === namespace),
    isAuthorized: async () => false,
    podUID: async () => undefined,
  };
  const review = await exec(execReview({ command: ['cat', '/app/config'] }), lookup, context());
  const anyCommand = await exec(execReview({ command: ['sh'] }), lookup, context());
  const bindings = desiredRoleBindings({ requests, grants, policies, now, config: reconcileConfig });
  const cleanup = dueForCleanup({
    requests,
    grants,
    policies,
    now,
    deleteAfterMs: 3_600_000,
    orphanGraceMs: 60_000,
    usernamePrefix: '',
  });
  const pending = [...pendingByNamespace({ requests, grants, policies, now, usernamePrefix: '' })];
  const statuses = planStatuses({ requests, grants, policies, now, usernamePrefix: '' });
  const verdict = (d: typeof review) => ({
    allowed: d.allowed,
    code: d.code,
    message: d.message,
    effects: d.effects,
    auditAnnotations: d.auditAnnotations,
    audit: d.audit.map((event) => event.type),
  });
  // An object the decisions carry (a grant in a GrantState, a deletion's object) by its identity.
  const identity = (_key: string, value: unknown) => {
    const object = value as { kind?: unknown; metadata?: ObjectMeta; spec?: unknown } | null;
    return object && typeof object === 'object' && object.metadata && object.spec
      ? `${object.kind} ${object.metadata.namespace}/${object.metadata.name} uid ${object.metadata.uid}`
      : value;
  };
  return JSON.stringify(
    { states, review: verdict(review), anyCommand: verdict(anyCommand), bindings, cleanup, pending, statuses },
    identity,
  );
}

const compactRequest = (r: AccessRequest) => compact(r, 'AccessRequest');
const compactGrant = (g: AccessGrant) => compact(g, 'AccessGrant');
const compactPolicy = (p: LoadedPolicy) => compact(p, 'AccessPolicy');

describe('the compact cache', () => {
  it('drops what no reader needs and keeps spec, status, labels and annotations as they are', () => {
    const full = fullRequest({
      name: 'r',
      user: 'alice',
      validFor: '1h',
      createdAt: at(-5),
      command: [],
      createdBy: 'admin',
      status: { usedAt: at(-1), uses: 2, conditions: [{ type: 'Granted', status: 'True' }] },
      extraSpec: { maxUses: 3, reason: 'incident' },
    });
    const before = structuredClone(full);
    const small = compactRequest(full);
    assert.deepEqual(small.spec, full.spec);
    assert.deepEqual(small.status, full.status);
    // Rebuilt in literals for memory, they list the same fields in the same order.
    assert.equal(JSON.stringify(small.spec), JSON.stringify(full.spec));
    assert.equal(JSON.stringify(small.status), JSON.stringify(full.status));
    assert.deepEqual(full, before, 'the parsed object is left as it was');
    assert.deepEqual(JSON.parse(JSON.stringify(small.metadata)), {
      name: 'r',
      namespace: 'team-a',
      uid: 'uid-r',
      resourceVersion: '17',
      creationTimestamp: at(-5),
      // Labels and annotations reach audit receivers (audit-granted's accessRequest is the cached one).
      labels: noise.labels,
      annotations: {
        'kubectl.kubernetes.io/restartedAt': at(-100),
        'example.com/ticket': 'OPS-1',
        [CREATED_BY_ANNOTATION]: 'admin',
      },
    });
    assert.equal(small.apiVersion, 'kube-request-access.io/v1');
    assert.equal(small.kind, 'AccessRequest');
    assert.ok(v.safeParse(AccessRequest, small).success, 'a compacted request is still an AccessRequest');
    const grant = compactGrant(
      fullGrant({ name: 'g', grantFor: 'r', grantForUID: 'uid-r', by: 'carol', status: 'granted', createdAt: at(-2) }),
    );
    assert.deepEqual(grant.metadata.annotations, { 'example.com/note': 'x' });
    assert.deepEqual(grant.metadata.labels, noise.labels);
    assert.equal(
      compactGrant(fullGrant({ name: 'h', grantFor: 'r', by: 'carol', status: 'granted', createdAt: at(-2) })).metadata
        .labels,
      grant.metadata.labels,
      'equal labels are one shared object',
    );
    assert.equal(
      JSON.stringify(grant.spec),
      JSON.stringify({ grantFor: 'r', grantedBy: { username: 'carol' }, grantForUID: 'uid-r' }),
    );
    assert.ok(v.safeParse(AccessGrant, grant).success);
  });

  it('shares the few-valued parts of a spec and the texts of conditions between cached objects, frozen', () => {
    const written = (name: string, time: string) =>
      fullRequest({
        name,
        user: 'alice',
        validFor: '1h',
        createdAt: at(-5),
        command: ['cat', '/app/config'],
        status: {
          state: 'Granted',
          conditions: ['Granted', 'Used'].map((type) => ({
            type,
            status: 'True',
            reason: 'Approved',
            message: `granted by ${'carol'}`, // a string made at run time, as parsed JSON is
            lastTransitionTime: time,
          })),
        },
      });
    const [a, b] = [written('a', at(-2)), written('b', at(-1))];
    const [small, other] = [compactRequest(a), compactRequest(b)];
    assert.equal(small.spec.userInfo, other.spec.userInfo);
    assert.equal(small.spec.forObject.resource, other.spec.forObject.resource);
    assert.ok(Object.isFrozen(small.spec.userInfo) && Object.isFrozen(small.spec.forObject.resource));
    assert.throws(() => {
      (small.spec.userInfo as { username: string }).username = 'mallory';
    }, TypeError);
    assert.equal(small.spec.forObject, other.spec.forObject, 'requests for the same pod share one forObject');
    assert.ok(Object.isFrozen(small.spec.forObject));
    const elsewhere = fullRequest({ name: 'c', user: 'alice', validFor: '1h', createdAt: at(-5), command: [] });
    elsewhere.spec.forObject.name = 'web-1';
    const third = compactRequest(elsewhere).spec.forObject;
    assert.notEqual(third, small.spec.forObject);
    assert.equal(third.name, 'web-1');
    assert.equal(third.resource, small.spec.forObject.resource, 'its resource is the one shared resource');
    assert.deepEqual(small.spec.execOptions, a.spec.execOptions);
    assert.deepEqual(small.status, a.status);
    assert.equal(JSON.stringify(small), JSON.stringify({ ...a, metadata: small.metadata }), 'same fields, same order');
    assert.deepEqual(other.status, b.status);
    const grant = (name: string) =>
      compactGrant(fullGrant({ name, grantFor: 'a', by: 'carol', status: 'granted', createdAt: at(-1) }));
    assert.equal(grant('g1').spec.grantedBy, grant('g2').spec.grantedBy);
  });

  it('keeps large annotations with their object only: the intern table never holds them', () => {
    const big = (name: string) => {
      const full = fullRequest({ name, user: 'alice', validFor: '1h', createdAt: at(-5), command: [] });
      full.metadata.annotations = { 'example.com/blob': 'x'.repeat(4_000) };
      return compactRequest(full);
    };
    const [a, b] = [big('a'), big('b')];
    assert.deepEqual(a.metadata.annotations, { 'example.com/blob': 'x'.repeat(4_000) });
    assert.notEqual(a.metadata.annotations, b.metadata.annotations, 'not interned: each its own');
    assert.ok(!Object.isFrozen(a.metadata.annotations));
  });

  it('every metadata field a reader touches is kept, with its value', async () => {
    const read = new Set<string>();
    const spy = <T extends { metadata: object }>(object: T): T => ({
      ...object,
      metadata: new Proxy(object.metadata, {
        get(target, key, receiver) {
          if (typeof key === 'string') read.add(key);
          if (key === 'labels' && process.env.DEBUG_COMPACT) console.log(new Error().stack);
          return Reflect.get(target, key, receiver);
        },
      }),
    });
    const request = fullRequest({ name: 'r', user: 'alice', validFor: '1h', createdAt: at(-5), command: [] });
    const grant = fullGrant({
      name: 'g',
      grantFor: 'r',
      grantForUID: 'uid-r',
      by: 'carol',
      status: 'granted',
      createdAt: at(-2),
    });
    await decisions([spy(request)], [spy(grant)], [spy(twoApprovals)]);
    await decisions([spy(request)], [spy(grant)], []);
    assert.ok(read.size > 0);
    for (const [full, small] of [
      [request, compactRequest(request)],
      [grant, compactGrant(grant)],
      [twoApprovals, compactPolicy(twoApprovals)],
    ] as const) {
      for (const key of read) {
        if (key === 'annotations') continue; // only ours are kept: checked below
        assert.deepEqual(
          (small.metadata as Record<string, unknown>)[key],
          (full.metadata as Record<string, unknown>)[key] ?? undefined,
          `metadata.${key}`,
        );
      }
    }
    const withCreator = fullRequest({
      name: 'c',
      user: 'alice',
      validFor: '',
      createdAt: at(-5),
      command: [],
      createdBy: 'admin',
    });
    assert.equal(compactRequest(withCreator).metadata.annotations?.[CREATED_BY_ANNOTATION], 'admin');
  });

  it('decides the same on full and compacted objects (property)', async () => {
    const users = ['alice', 'bob'];
    const approvers = ['carol', 'dave', 'alice'];
    const requestArb = fc.record({
      name: fc.constantFrom('r1', 'r2', 'r3'),
      user: fc.constantFrom(...users),
      validFor: fc.constantFrom('', '30m', '1h', '12h'),
      createdMinutes: fc.integer({ min: -900, max: 0 }),
      command: fc.constantFrom<string[]>([], ['cat', '/app/config'], ['sh']),
      deleting: fc.boolean(),
      usedMinutes: fc.option(fc.integer({ min: -60, max: 0 }), { nil: undefined }),
      extra: fc.option(fc.record({ maxUses: fc.integer({ min: 1, max: 5 }) }), { nil: undefined }),
      uses: fc.option(fc.integer({ min: 0, max: 5 }), { nil: undefined }),
      /** When the status writer last wrote its status (conditions and all), if it did. */
      writtenMinutes: fc.option(fc.integer({ min: -900, max: 0 }), { nil: undefined }),
    });
    const grantArb = fc.record({
      name: fc.constantFrom('g1', 'g2', 'g3', 'g4'),
      grantFor: fc.constantFrom('r1', 'r2', 'r3', 'r9'),
      uidMatches: fc.constantFrom(true, true, true, false, undefined),
      by: fc.constantFrom(...approvers),
      status: fc.constantFrom('granted' as const, 'denied' as const),
      createdMinutes: fc.integer({ min: -900, max: 0 }),
      extra: fc.option(fc.record({ validFor: fc.constantFrom('10m', '1h'), maxUses: fc.integer({ min: 1, max: 3 }) }), {
        nil: undefined,
      }),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(requestArb, { selector: (r) => r.name, maxLength: 3 }),
        fc.uniqueArray(grantArb, { selector: (g) => g.name, maxLength: 4 }),
        fc.boolean(),
        async (rs, gs, withPolicy) => {
          const requests = rs.map((r) =>
            fullRequest({
              name: r.name,
              user: r.user,
              validFor: r.validFor,
              createdAt: at(r.createdMinutes),
              command: r.command,
              deleting: r.deleting,
              ...(r.usedMinutes !== undefined || r.uses !== undefined
                ? {
                    status: {
                      ...(r.usedMinutes !== undefined ? { usedAt: at(r.usedMinutes) } : {}),
                      ...(r.uses !== undefined ? { uses: r.uses } : {}),
                    },
                  }
                : {}),
              ...(r.extra ? { extraSpec: r.extra } : {}),
            }),
          );
          const grants = gs.map((g) =>
            fullGrant({
              name: g.name,
              grantFor: g.grantFor,
              ...(g.uidMatches === undefined
                ? {}
                : { grantForUID: g.uidMatches ? `uid-${g.grantFor}` : 'uid-of-another' }),
              by: g.by,
              status: g.status,
              createdAt: at(g.createdMinutes),
              ...(g.extra ? { extraSpec: g.extra } : {}),
            }),
          );
          const policies = withPolicy ? [twoApprovals] : [];
          // The status the writer gave each request at its writtenMinutes, kept in the object as the API server keeps it.
          rs.forEach((r, i) => {
            if (r.writtenMinutes === undefined) return;
            const now = new Date(Date.parse(at(r.writtenMinutes)));
            const write = planStatuses({ requests: [requests[i]!], grants, policies, now, usernamePrefix: '' })
              .writes[0];
            if (!write) return;
            const patch = Object.entries(write.patch).filter(([, value]) => value !== null);
            requests[i] = v.parse(AccessRequest, {
              ...requests[i],
              status: { ...requests[i]!.status, ...Object.fromEntries(patch) },
            });
          });
          const full = await decisions(requests, grants, policies);
          const small = await decisions(
            requests.map(compactRequest),
            grants.map(compactGrant),
            policies.map(compactPolicy),
          );
          assert.deepEqual(JSON.parse(small), JSON.parse(full));
        },
      ),
      { seed: 16, numRuns: 300 },
    );
  });
});
