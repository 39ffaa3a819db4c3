// `kube-request-access migrate-from-seed`'s plan, from object literals: what is copied, what is
// skipped and why (tests/e2e/migrate.test.ts runs the command against a real kube-apiserver).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  goDuration,
  migratedSpec,
  migrateFromSeed,
  planMigration,
  type MigrationApi,
  type SeedObject,
} from '../../adapters/node/migrate.ts';

const NOW = new Date('2026-11-28T10:00:00Z');
const ago = (minutes: number) => new Date(NOW.getTime() - minutes * 60_000).toISOString();

function request(name: string, user = 'alice', extra: Record<string, unknown> = {}): SeedObject {
  return {
    apiVersion: 'spreadgroup.com/v1',
    kind: 'AccessRequest',
    metadata: { name, namespace: 'team-a', uid: `seed-${name}`, creationTimestamp: ago(60) },
    spec: {
      userInfo: { username: user },
      forObject: {
        resource: { group: '', version: 'v1', resource: 'pods' },
        subResource: 'exec',
        name: 'web',
        namespace: 'team-a',
      },
      execOptions: { apiVersion: 'v1', kind: 'PodExecOptions', stdout: true, container: 'app', command: ['ls'] },
      customKeys: null,
      ...extra,
    },
  };
}
function grant(name: string, grantFor: string, by = 'carol', status = 'granted', createdMinutesAgo = 10): SeedObject {
  return {
    apiVersion: 'spreadgroup.com/v1',
    kind: 'AccessGrant',
    metadata: { name, namespace: 'team-a', uid: `seed-${name}`, creationTimestamp: ago(createdMinutesAgo) },
    spec: { grantFor, grantedBy: { username: by } },
    status,
  };
}
const plan = (seedRequests: SeedObject[], seedGrants: SeedObject[], requests: SeedObject[] = [], usernamePrefix = '') =>
  planMigration({ seedRequests, seedGrants, requests, grants: [], now: NOW, usernamePrefix });

describe('migrate-from-seed: the plan', () => {
  test("Go nulls are dropped from the spec; only the seed's own fields are copied", () => {
    assert.deepEqual(
      migratedSpec({
        ...request('r').spec!,
        execOptions: { kind: 'PodExecOptions', command: null },
        userInfo: { username: 'alice', groups: ['x'] },
        bogus: 1,
      }),
      {
        userInfo: { username: 'alice' },
        forObject: request('r').spec!.forObject,
        execOptions: { kind: 'PodExecOptions' },
      },
    );
  });

  test('an expired time-bound request is not migrated, nor its grant', () => {
    const steps = plan(
      [request('old', 'alice', { validFor: '30m' })],
      [grant('old-grant', 'old', 'carol', 'granted', 31)],
    );
    assert.deepEqual(
      steps.map((s) => [s.kind, s.action]),
      [
        ['request', 'skip'],
        ['grant', 'skip'],
      ],
    );
    assert.match((steps[0] as { reason: string }).reason, /^expired at 2026-11-28T09:59:00.000Z/);
  });

  test('a live time-bound request keeps only what is left of its window', () => {
    const steps = plan(
      [request('live', 'alice', { validFor: '1h' })],
      [grant('live-grant', 'live', 'carol', 'granted', 25)],
    );
    const step = steps[0]!;
    assert.equal(step.action, 'create');
    if (step.kind === 'request' && step.action === 'create') {
      assert.equal(step.body.spec!.validFor, '35m');
      assert.equal(step.body.metadata!.annotations!['kube-request-access.io/seed-valid-for'], '1h');
    }
  });

  test('a pending time-bound request keeps its validFor (its window starts at the new grant)', () => {
    const step = plan([request('p', 'alice', { validFor: '1h' })], [])[0]!;
    if (step.kind === 'request' && step.action === 'create') assert.equal(step.body.spec!.validFor, '1h');
    else assert.fail(step.action);
  });

  test('a same-named new-group request this migration did not make gets no grant', () => {
    const theirs: SeedObject = {
      ...request('r'),
      apiVersion: 'kube-request-access.io/v1',
      metadata: { name: 'r', namespace: 'team-a', uid: 'someone-elses' },
    };
    const steps = plan([request('r')], [grant('g', 'r')], [theirs]);
    assert.deepEqual(
      steps.map((s) => [s.kind, s.action]),
      [
        ['request', 'skip'],
        ['grant', 'skip'],
      ],
    );
  });

  test('self-grants are not copied, with the username prefix taken into account', () => {
    const steps = plan([request('r', 'alice')], [grant('g', 'r', 'oidc:alice')], [], 'oidc:');
    assert.equal(steps[1]!.action, 'skip');
    assert.match((steps[1] as { reason: string }).reason, /self-grant/);
  });

  test('goDuration', () => {
    assert.equal(goDuration(35 * 60_000), '35m');
    assert.equal(goDuration(3_600_000 + 61_500), '1h1m1s');
    assert.equal(goDuration(999), '0s');
  });

  test('grants are pinned to the uid the created request came back with; a failure is counted', async () => {
    const created: SeedObject[] = [];
    const api: MigrationApi = {
      list: async (group, _v, plural) =>
        group === 'spreadgroup.com'
          ? plural === 'accessrequests'
            ? [request('r'), request('s')]
            : [grant('g', 'r'), grant('h', 's')]
          : [],
      create: async (plural, _ns, body) => {
        if (body.metadata?.name === 's')
          throw Object.assign(new Error('HTTP 403'), { body: JSON.stringify({ message: 'refused' }) });
        created.push(body);
        return { ...body, metadata: { ...body.metadata, uid: `new-${body.metadata?.name}` } };
      },
    };
    const result = await migrateFromSeed(api, { dryRun: false, usernamePrefix: '', now: () => NOW });
    assert.equal(result.failed, 1);
    assert.equal((created[1]!.spec as { grantForUID: string }).grantForUID, 'new-r');
    assert.match(result.lines.join('\n'), /accessrequest team-a\/s: FAILED: refused/);
    assert.match(result.lines.join('\n'), /accessgrant team-a\/h: skipped: its request s was not created/);
  });
});
