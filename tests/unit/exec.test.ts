// Invariant 1: exec only for an always-allowed identity, or with a matching request by the same
// user plus a granted, unexpired grant. One-shot requests ask to be consumed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { exec } from '../../functions/exec/index.ts';
import { accessGrant, accessRequest, context, execReview, lookupOf, minutes, NOW, users } from '../support/builders.ts';

const granted = [accessRequest(), accessGrant()];

const cases: Array<{
  name: string;
  objects: unknown[];
  review?: Parameters<typeof execReview>[0];
  config?: Parameters<typeof context>[0];
  allowed: boolean;
  message?: RegExp;
  consumes?: boolean;
}> = [
  { name: 'allows a granted one-shot request and consumes it', objects: granted, allowed: true, consumes: true },
  {
    name: 'denies without any request and says how to request',
    objects: [],
    allowed: false,
    message:
      /no AccessRequest of yours matches.*kubectl request exec -n team-a web-0 -c app --valid-for 1h -- cat \/app\/config/,
  },
  {
    name: 'denies a request that is not granted yet and names the grant command',
    objects: [accessRequest()],
    allowed: false,
    message: /not granted yet.*kubectl request grant -n team-a alice-web-0/,
  },
  {
    name: 'denies a denied request and shows who and why',
    objects: [accessRequest(), accessGrant({ status: 'denied', reason: 'use the runbook' })],
    allowed: false,
    message: /denied by carol: use the runbook/,
  },
  {
    name: 'denies another user',
    objects: granted,
    review: { user: users.bob },
    allowed: false,
    message: /no AccessRequest of yours/,
  },
  { name: 'denies another command', objects: granted, review: { command: ['cat', '/etc/shadow'] }, allowed: false },
  {
    name: 'denies a command with extra arguments',
    objects: granted,
    review: { command: ['cat', '/app/config', '/etc/shadow'] },
    allowed: false,
  },
  { name: 'denies another container', objects: granted, review: { container: 'sidecar' }, allowed: false },
  { name: 'denies another pod', objects: granted, review: { pod: 'web-1' }, allowed: false },
  { name: 'denies another namespace', objects: granted, review: { namespace: 'team-b' }, allowed: false },
  {
    name: 'denies exec with stdin',
    objects: granted,
    review: { stdin: true },
    allowed: false,
    message: /stdin .* tty/,
  },
  {
    name: 'denies exec with a tty',
    objects: granted,
    review: { tty: true },
    allowed: false,
    message: /interactive exec is not allowed/,
  },
  {
    name: 'allows any command when the request names none',
    objects: [accessRequest({ command: [] }), accessGrant()],
    review: { command: ['ls', '-l'] },
    allowed: true,
    consumes: true,
  },
  {
    name: 'allows a time-bound request within its window without consuming it',
    objects: [accessRequest({ validFor: '1h' }), accessGrant({ createdAt: minutes(-10) })],
    allowed: true,
    consumes: false,
    message: /until 2026-11-28T10:50:00.000Z/,
  },
  {
    name: 'denies a time-bound request after its window',
    objects: [accessRequest({ validFor: '30m', createdAt: minutes(-90) }), accessGrant({ createdAt: minutes(-31) })],
    allowed: false,
    message: /expired at 2026-11-28T09:59:00.000Z/,
  },
  {
    name: 'denies an expired request and names it',
    objects: [accessRequest({ validFor: '30m', createdAt: minutes(-90) }), accessGrant({ createdAt: minutes(-31) })],
    allowed: false,
    message: /^AccessRequest alice-web-0 expired at 2026-11-28T09:59:00.000Z; request again: kubectl request exec/,
  },
  {
    name: 'denies a used one-shot request and names it',
    objects: [{ ...accessRequest(), status: { usedAt: minutes(-2) } }, accessGrant()],
    allowed: false,
    message:
      /AccessRequest alice-web-0 was used at 2026-11-28T09:58:00.000Z: a one-shot request allows exactly one exec; request again: kubectl request exec/,
  },
  {
    name: 'denies when the request was re-created under the same name (the grant names the old uid)',
    objects: [accessRequest({ uid: 'uid-re-created' }), accessGrant()],
    allowed: false,
    message: /not granted yet/,
  },
  {
    name: 'denies the same-second re-creation too: no timestamp decides, only the uid',
    objects: [
      accessRequest({ uid: 'uid-re-created', createdAt: minutes(-10) }),
      accessGrant({ createdAt: minutes(-10) }),
    ],
    allowed: false,
    message: /not granted yet/,
  },
  {
    name: 'denies with a grant that pins no uid (hand-written, or older than grantForUID)',
    objects: [accessRequest(), accessGrant({ grantForUID: null })],
    allowed: false,
    message: /not granted yet/,
  },
  {
    name: 'denies when the grant names another request uid',
    objects: [accessRequest(), accessGrant({ grantForUID: 'uid-of-an-older-request' })],
    allowed: false,
  },
  {
    name: 'ignores a self-grant that slipped past admission',
    objects: [accessRequest(), accessGrant({ grantedBy: 'alice' })],
    allowed: false,
  },
  {
    name: 'a denial wins over a grant',
    objects: [accessRequest(), accessGrant(), accessGrant({ name: 'second', status: 'denied' })],
    allowed: false,
    message: /denied/,
  },
  {
    name: 'ignores a grant in another namespace',
    objects: [accessRequest(), accessGrant({ namespace: 'team-b' })],
    allowed: false,
  },
  {
    name: 'denies a request written for another subresource',
    objects: [accessRequest({ subResource: 'attach' }), accessGrant()],
    allowed: false,
  },
  {
    name: 'denies a stored request that asks for a tty',
    objects: [accessRequest({ tty: true, command: [] }), accessGrant()],
    allowed: false,
  },
  {
    name: 'lets an always-allowed group through without a request, even with a tty',
    objects: [],
    review: { user: users.admin, tty: true, stdin: true },
    allowed: true,
    consumes: false,
  },
  {
    name: 'lets an always-allowed user through',
    objects: [],
    review: { user: { username: 'breakglass' } },
    config: { alwaysAllowedUsers: ['breakglass'] },
    allowed: true,
  },
  {
    name: 'matches a request that omits the username prefix',
    objects: [accessRequest({ user: 'alice' }), accessGrant()],
    review: { user: { username: 'oidc:alice' } },
    config: { usernamePrefix: 'oidc:' },
    allowed: true,
  },
  {
    name: 'matches a request that carries the username prefix',
    objects: [accessRequest({ user: 'oidc:alice' }), accessGrant({ grantedBy: 'oidc:carol' })],
    review: { user: { username: 'oidc:alice' } },
    config: { usernamePrefix: 'oidc:' },
    allowed: true,
  },
  {
    name: 'does not let an unprefixed identity use a request when a prefix is set',
    objects: [accessRequest({ user: 'alice' }), accessGrant()],
    review: { user: { username: 'alice' } },
    config: { usernamePrefix: 'oidc:' },
    allowed: false,
  },
];

describe('exec', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const review = execReview(c.review);
      const decision = await exec(review, lookupOf(c.objects), context(c.config));
      assert.equal(decision.allowed, c.allowed, decision.message);
      if (c.message) assert.match(decision.message, c.message);
      if (c.consumes !== undefined) assert.equal(decision.effects.length > 0, c.consumes);
      assert.equal(decision.audit.length, 1, 'every exec decision is audited');
      const event = decision.audit[0]!;
      assert.equal(event.type, 'audit-exec');
      if (event.type === 'audit-exec') assert.equal(event.data.isAllowed, c.allowed);
      if (!c.allowed) assert.deepEqual(decision.effects, [], 'a denial asks for no effect');
    });
  }

  it('consumes exactly the matched request with its uid and resourceVersion', async () => {
    const decision = await exec(execReview(), lookupOf(granted), context());
    assert.deepEqual(decision.effects, [
      {
        type: 'consume-request',
        namespace: 'team-a',
        name: 'alice-web-0',
        uid: 'uid-alice-web-0',
        resourceVersion: '100',
        maxUses: 1,
      },
    ]);
  });

  it('prefers a time-bound grant over consuming a one-shot one', async () => {
    const objects = [
      accessRequest({ name: 'once' }),
      accessGrant({ grantFor: 'once' }),
      accessRequest({ name: 'window', validFor: '2h' }),
      accessGrant({ grantFor: 'window' }),
    ];
    const decision = await exec(execReview(), lookupOf(objects), context());
    assert.equal(decision.allowed, true);
    assert.deepEqual(decision.effects, []);
    assert.match(decision.message, /window/);
  });

  it('audits an always-allowed exec as admin', async () => {
    const decision = await exec(execReview({ user: users.admin }), lookupOf([]), context());
    const event = decision.audit[0]!;
    assert.equal(event.type === 'audit-exec' && event.data.isAdmin, true);
  });

  it('refuses a review that is not CONNECT', async () => {
    const review = { ...execReview(), operation: 'CREATE' as const };
    const decision = await exec(review, lookupOf(granted), context());
    assert.equal(decision.allowed, false);
    assert.equal(decision.code, 400);
  });

  it('refuses malformed PodExecOptions with the field path', async () => {
    const review = { ...execReview(), object: { command: 'cat /app/config' } };
    const decision = await exec(review, lookupOf(granted), context());
    assert.equal(decision.allowed, false);
    assert.match(decision.message, /command/);
  });

  it('reads time only from the context', async () => {
    const objects = [accessRequest({ validFor: '1h' }), accessGrant({ createdAt: minutes(-10) })];
    const later = new Date(NOW.getTime() + 3_600_000);
    assert.equal((await exec(execReview(), lookupOf(objects), context())).allowed, true);
    assert.equal((await exec(execReview(), lookupOf(objects), context({}, later))).allowed, false);
  });
});
