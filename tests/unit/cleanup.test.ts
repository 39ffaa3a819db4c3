import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dueForCleanup } from '../../functions/cleanup/index.ts';
import { at, grant, request } from './kubernetes/_objects.ts';

const HOUR = 3_600_000;
const kinds = (plan: ReturnType<typeof dueForCleanup>) =>
  plan.deletions.map((d) => `${d.kind} ${d.namespace}/${d.name} ${d.reason}`);

describe('dueForCleanup', () => {
  it('deletes expired time-bound requests and their grants, in every namespace', () => {
    const plan = dueForCleanup({
      requests: [
        request('r1', { namespace: 'a', validFor: '10m' }),
        request('r2', { namespace: 'b', validFor: '10m' }),
      ],
      grants: [grant('g1', 'r1', { namespace: 'a' }), grant('g2', 'r2', { namespace: 'b' })],
      now: at('2026-01-01T10:11:00Z'),
      deleteAfterMs: 24 * HOUR,
    });
    assert.deepEqual(kinds(plan).sort(), [
      'AccessGrant a/g1 orphaned',
      'AccessGrant b/g2 orphaned',
      'AccessRequest a/r1 expired',
      'AccessRequest b/r2 expired',
    ]);
  });

  it('keeps a time-bound request inside its window and wakes at its end', () => {
    const plan = dueForCleanup({
      requests: [request('r1', { validFor: '10m' })],
      grants: [grant('g1', 'r1')],
      now: at('2026-01-01T10:05:00Z'),
      deleteAfterMs: 60_000,
    });
    assert.deepEqual(plan.deletions, []);
    assert.equal(plan.nextDueAt?.toISOString(), '2026-01-01T10:11:00.000Z');
  });

  it('deletes unused one-shot, pending and denied requests older than deleteAfter, not younger', () => {
    const requests = [
      request('used-not'),
      request('pending'),
      request('denied'),
      request('young', { created: '2026-01-01T10:59:00Z' }),
    ];
    const grants = [grant('g1', 'used-not'), grant('g2', 'denied', { status: 'denied' })];
    const plan = dueForCleanup({ requests, grants, now: at('2026-01-01T11:00:00Z'), deleteAfterMs: HOUR });
    assert.deepEqual(kinds(plan).sort(), [
      'AccessGrant default/g1 orphaned',
      'AccessGrant default/g2 orphaned',
      'AccessRequest default/denied denied',
      'AccessRequest default/pending unused',
      'AccessRequest default/used-not unused',
    ]);
    assert.equal(plan.nextDueAt?.toISOString(), '2026-01-01T11:59:00.000Z');
  });

  it('deletes grants whose request is gone, after a grace period', () => {
    const grants = [
      grant('old', 'gone', { created: '2026-01-01T10:00:00Z' }),
      grant('fresh', 'gone', { created: '2026-01-01T10:59:50Z' }),
    ];
    const plan = dueForCleanup({
      requests: [],
      grants,
      now: at('2026-01-01T11:00:00Z'),
      deleteAfterMs: HOUR,
      orphanGraceMs: 60_000,
    });
    assert.deepEqual(kinds(plan), ['AccessGrant default/old orphaned']);
    assert.equal(plan.nextDueAt?.toISOString(), '2026-01-01T11:00:50.000Z');
  });

  it('deletes grants for an earlier request of the same name', () => {
    const plan = dueForCleanup({
      requests: [request('r1', { uid: 'new', created: '2026-01-01T10:59:00Z' })],
      grants: [grant('g1', 'r1', { forUID: 'old', created: '2026-01-01T10:00:00Z' })],
      now: at('2026-01-01T11:00:00Z'),
      deleteAfterMs: HOUR,
    });
    assert.deepEqual(kinds(plan), ['AccessGrant default/g1 orphaned']);
  });

  it('keeps a pending request, and its grant, that are young', () => {
    const plan = dueForCleanup({
      requests: [request('r1', { created: '2026-01-01T10:30:00Z' })],
      grants: [grant('g1', 'r1', { created: '2026-01-01T10:31:00Z' })],
      now: at('2026-01-01T11:00:00Z'),
      deleteAfterMs: HOUR,
    });
    assert.deepEqual(plan.deletions, []);
  });
});

describe('dueForCleanup with a retention (history for list --all)', () => {
  const now = at('2026-01-02T12:00:00Z');
  const used = (name: string, usedAt: string) =>
    ({ ...request(name), status: { usedAt } }) as ReturnType<typeof request>;

  it('keeps used, expired and denied requests for the retention after they ended, then deletes them', () => {
    const requests = [
      used('used-recently', '2026-01-02T11:30:00Z'),
      used('used-long-ago', '2026-01-02T10:00:00Z'),
      request('expired-recently', { validFor: '10m', created: '2026-01-02T11:00:00Z' }),
      request('expired-long-ago', { validFor: '10m' }),
      request('denied-recently'),
    ];
    const grants = [
      grant('g1', 'used-recently'),
      grant('g2', 'used-long-ago'),
      grant('g3', 'expired-recently', { created: '2026-01-02T11:01:00Z' }),
      grant('g4', 'expired-long-ago'),
      grant('g5', 'denied-recently', { status: 'denied', created: '2026-01-02T11:50:00Z' }),
    ];
    const plan = dueForCleanup({ requests, grants, now, deleteAfterMs: HOUR, retentionMs: HOUR });
    assert.deepEqual(kinds(plan).sort(), [
      'AccessGrant default/g2 orphaned',
      'AccessGrant default/g4 orphaned',
      'AccessRequest default/expired-long-ago expired',
      'AccessRequest default/used-long-ago used',
    ]);
    // The next one due: the expired request, an hour after its window ended at 11:11.
    assert.equal(plan.nextDueAt?.toISOString(), '2026-01-02T12:11:00.000Z');
    const message = plan.deletions.find((d) => d.name === 'used-long-ago')?.message;
    assert.equal(message, 'used at 2026-01-02T10:00:00.000Z, kept 3600s (--retention)');
  });

  it('still deletes unused and pending requests deleteAfter after creation', () => {
    const plan = dueForCleanup({
      requests: [request('pending'), request('granted-unused')],
      grants: [grant('g1', 'granted-unused')],
      now,
      deleteAfterMs: HOUR,
      retentionMs: 24 * HOUR,
    });
    assert.deepEqual(kinds(plan).sort(), [
      'AccessGrant default/g1 orphaned',
      'AccessRequest default/granted-unused unused',
      'AccessRequest default/pending unused',
    ]);
  });
});
