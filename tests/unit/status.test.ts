// The status an AccessRequest shows (functions/status): state, conditions, expiresAt, approvals,
// and "nothing to write" when the status already says it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readPolicy, type LoadedPolicy } from '../../functions/policy.ts';
import type { AccessRequest } from '../../functions/schemas.ts';
import { desiredStatus, planStatuses, type StatusPatch } from '../../functions/status/index.ts';
import { accessGrant, accessRequest, minutes, NOW } from '../support/builders.ts';

function policy(spec: Record<string, unknown>): LoadedPolicy {
  return readPolicy({
    apiVersion: 'kube-request-access.io/v1',
    kind: 'AccessPolicy',
    metadata: { name: 'production', namespace: 'team-a' },
    spec,
  })!;
}

/** The request as the apiserver returns it after the patch was written. */
function withStatus(request: AccessRequest, patch: StatusPatch, extra: Record<string, string> = {}): AccessRequest {
  const status = Object.fromEntries(Object.entries(patch).filter(([, value]) => value !== null));
  return { ...request, status: { ...request.status, ...status, ...extra } } as AccessRequest;
}

const condition = (patch: StatusPatch | undefined, type: string) => patch?.conditions.find((c) => c.type === type);
const summary = (patch: StatusPatch | undefined) =>
  patch?.conditions.map((c) => `${c.type}=${c.status}/${c.reason}`).join(' ');

describe('desiredStatus', () => {
  it('Pending: Granted is False, AwaitingApproval; COMMAND is the command as text', () => {
    const patch = desiredStatus({ request: accessRequest({ command: ['cat', '/a b'] }), grants: [], now: NOW });
    assert.equal(patch?.state, 'Pending');
    assert.equal(
      summary(patch),
      'Granted=False/AwaitingApproval Denied=False/NotDenied Expired=False/NotStarted Used=False/NotUsed',
    );
    assert.equal(condition(patch, 'Granted')?.message, 'waiting for an approver');
    assert.equal(patch?.command, "cat '/a b'");
    assert.equal(patch?.expiresAt, null);
    assert.equal(patch?.approvals, null);
    assert.equal(condition(patch, 'Granted')?.lastTransitionTime, NOW.toISOString());
  });

  it('Pending with a policy of two approvals: "1 of 2 approvals", approvals "1/2"', () => {
    const patch = desiredStatus({
      request: accessRequest(),
      grants: [accessGrant()],
      policies: [policy({ requiredApprovals: 2 })],
      now: NOW,
    });
    assert.equal(patch?.state, 'Pending');
    assert.equal(patch?.approvals, '1/2');
    assert.equal(condition(patch, 'Granted')?.message, '1 of 2 approvals (carol); waiting for 1 more');
  });

  it('Granted (one-shot): Granted True, Approved, by whom; no expiresAt', () => {
    const patch = desiredStatus({ request: accessRequest(), grants: [accessGrant()], now: NOW });
    assert.equal(patch?.state, 'Granted');
    assert.equal(
      summary(patch),
      'Granted=True/Approved Denied=False/NotDenied Expired=False/NoWindow Used=False/NotUsed',
    );
    assert.equal(condition(patch, 'Granted')?.message, 'granted by carol');
    assert.equal(patch?.expiresAt, null);
  });

  it('Granted by two approvers: both named, approvals "2/2"', () => {
    const patch = desiredStatus({
      request: accessRequest(),
      grants: [accessGrant({ name: 'g1' }), accessGrant({ name: 'g2', grantedBy: 'dave', createdAt: minutes(-5) })],
      policies: [policy({ requiredApprovals: 2 })],
      now: NOW,
    });
    assert.equal(patch?.state, 'Granted');
    assert.equal(patch?.approvals, '2/2');
    assert.equal(condition(patch, 'Granted')?.message, 'granted by carol and dave (2 of 2 approvals)');
  });

  it('Granted (time-bound): expiresAt is the end of the window from the grant', () => {
    const patch = desiredStatus({
      request: accessRequest({ validFor: '30m' }),
      grants: [accessGrant({ createdAt: minutes(-10) })],
      now: NOW,
    });
    assert.equal(patch?.state, 'Granted');
    assert.equal(patch?.expiresAt, minutes(20));
    assert.equal(condition(patch, 'Expired')?.reason, 'WithinWindow');
  });

  it('Granted by a policy pre-approval: reason PreApproved, names the policy', () => {
    const patch = desiredStatus({
      request: accessRequest({ command: ['uptime'] }),
      grants: [],
      policies: [policy({ preApproved: [{ command: ['uptime'] }] })],
      now: NOW,
    });
    assert.equal(patch?.state, 'Granted');
    assert.equal(condition(patch, 'Granted')?.reason, 'PreApproved');
    assert.equal(condition(patch, 'Granted')?.message, 'pre-approved by AccessPolicy production');
  });

  it('Denied: Denied True, with who denied it and why', () => {
    const patch = desiredStatus({
      request: accessRequest(),
      grants: [accessGrant({ status: 'denied', reason: 'use the runbook' })],
      now: NOW,
    });
    assert.equal(patch?.state, 'Denied');
    assert.equal(summary(patch), 'Granted=False/Denied Denied=True/Denied Expired=False/NotStarted Used=False/NotUsed');
    assert.equal(condition(patch, 'Denied')?.message, 'denied by carol: use the runbook');
  });

  it('Expired: Expired True, WindowEnded; Granted False', () => {
    const patch = desiredStatus({
      request: accessRequest({ validFor: '5m' }),
      grants: [accessGrant({ createdAt: minutes(-10) })],
      now: NOW,
    });
    assert.equal(patch?.state, 'Expired');
    assert.equal(
      summary(patch),
      'Granted=False/Expired Denied=False/NotDenied Expired=True/WindowEnded Used=False/NotUsed',
    );
    assert.equal(patch?.expiresAt, minutes(-5));
    assert.equal(condition(patch, 'Expired')?.message, `the 5m window ended at ${minutes(-5)}`);
  });

  it('Used: Used True from status.usedAt', () => {
    const request = { ...accessRequest(), status: { usedAt: minutes(-1) } } as AccessRequest;
    const patch = desiredStatus({ request, grants: [accessGrant()], now: NOW });
    assert.equal(patch?.state, 'Used');
    assert.equal(summary(patch), 'Granted=False/Used Denied=False/NotDenied Expired=False/NoWindow Used=True/Used');
    assert.equal(condition(patch, 'Used')?.message, `used at ${minutes(-1)}`);
  });

  it('Invalid: a broken policy makes the request Invalid, with the reason', () => {
    const patch = desiredStatus({
      request: accessRequest(),
      grants: [accessGrant()],
      policies: [{ ...policy({ requiredApprovals: 2 }), malformed: 'spec.requiredApprovals: bad' }],
      now: NOW,
    });
    assert.equal(patch?.state, 'Invalid');
    assert.equal(condition(patch, 'Granted')?.reason, 'Invalid');
  });

  it('answers undefined when the status already says it (nothing to write), also at second precision', () => {
    const request = accessRequest();
    const patch = desiredStatus({ request, grants: [], now: NOW })!;
    const written = withStatus(request, patch);
    assert.equal(desiredStatus({ request: written, grants: [], now: new Date(NOW.getTime() + 60_000) }), undefined);
    const truncated = {
      ...written,
      status: {
        ...written.status,
        conditions: written.status!.conditions!.map((c) => ({ ...c, lastTransitionTime: '2026-11-28T10:00:00Z' })),
      },
    } as AccessRequest;
    assert.equal(desiredStatus({ request: truncated, grants: [], now: NOW }), undefined);
  });

  it('keeps lastTransitionTime of conditions whose status stays, and moves those that change', () => {
    const request = accessRequest();
    const pending = withStatus(request, desiredStatus({ request, grants: [], now: NOW })!);
    const later = new Date(NOW.getTime() + 5 * 60_000);
    const granted = desiredStatus({ request: pending, grants: [accessGrant()], now: later })!;
    assert.equal(granted.state, 'Granted');
    assert.equal(condition(granted, 'Granted')?.lastTransitionTime, later.toISOString());
    assert.equal(condition(granted, 'Denied')?.lastTransitionTime, NOW.toISOString());
    assert.equal(condition(granted, 'Used')?.lastTransitionTime, NOW.toISOString());
  });

  it('leaves usedAt out of the patch: the consume owns it', () => {
    const request = { ...accessRequest(), status: { usedAt: minutes(-1) } } as AccessRequest;
    const patch = desiredStatus({ request, grants: [accessGrant()], now: NOW })!;
    assert.equal('usedAt' in patch, false);
    assert.equal('uses' in patch, false);
  });
});

describe('planStatuses', () => {
  it('writes only what changed, and wakes when a window ends', () => {
    const settled = accessRequest({ name: 'settled' });
    const settledNow = withStatus(settled, desiredStatus({ request: settled, grants: [], now: NOW })!);
    const timed = accessRequest({ name: 'timed', validFor: '30m' });
    const plan = planStatuses({
      requests: [settledNow, timed],
      grants: [accessGrant({ grantFor: 'timed', createdAt: minutes(-10) })],
      now: NOW,
    });
    assert.deepEqual(
      plan.writes.map((w) => `${w.name} ${w.patch.state}`),
      ['timed Granted'],
    );
    assert.equal(plan.writes[0]?.uid, 'uid-timed');
    assert.equal(plan.nextChangeAt?.toISOString(), minutes(20));
  });
});
