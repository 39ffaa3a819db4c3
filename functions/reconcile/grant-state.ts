// Provisional: the shared "is this request granted at now" rule lives in functions/access.ts
// (evaluateGrant, written by the lead). Until it lands this file implements the same signature;
// then it becomes a re-export so the reconciler and the webhook never disagree.
import { parseDuration } from '../duration.ts';
import type { AccessGrant, AccessRequest } from '../schemas.ts';

export type GrantState = {
  state: 'pending' | 'granted' | 'denied' | 'expired';
  grant?: AccessGrant;
  expiresAt?: Date;
};

export function evaluateGrant(
  request: AccessRequest,
  grants: readonly AccessGrant[],
  now: Date,
): GrantState {
  const answering = grants.filter(
    (g) =>
      g.spec.grantFor === request.metadata.name &&
      g.metadata.namespace === request.metadata.namespace &&
      (!g.spec.grantForUID || g.spec.grantForUID === request.metadata.uid) &&
      g.spec.grantedBy.username !== request.spec.userInfo.username,
  );
  const denied = answering.find((g) => g.status === 'denied');
  if (denied) return { state: 'denied', grant: denied };
  const granted = answering.find((g) => g.status === 'granted');
  if (!granted) return { state: 'pending' };
  const validFor = request.spec.validFor;
  if (!validFor || validFor === '0') return { state: 'granted', grant: granted };
  const ms = parseDuration(validFor);
  const start = Date.parse(granted.metadata.creationTimestamp ?? '');
  if (ms === undefined || Number.isNaN(start)) return { state: 'expired', grant: granted };
  const expiresAt = new Date(start + ms);
  return now < expiresAt
    ? { state: 'granted', grant: granted, expiresAt }
    : { state: 'expired', grant: granted, expiresAt };
}
