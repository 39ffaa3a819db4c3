// Shared policy: who a request belongs to and whether it is granted at a given time. Used by the
// admission concerns and by the reconciler and cleanup, so all agree on one answer.
import { parseDuration } from './duration.ts';
import type { AccessGrant, AccessRequest, UserInfo } from './schemas.ts';
import type { Config } from './types.ts';

/** The name the apiserver authenticates for a user written as `specName` in a request. */
export function canonicalUsername(specName: string, prefix: string): string {
  return prefix && !specName.startsWith(prefix) ? prefix + specName : specName;
}

/** True when `specName` (from an AccessRequest or AccessGrant) denotes the authenticated `username`. */
export function isSameUser(specName: string, username: string, prefix: string): boolean {
  return canonicalUsername(specName, prefix) === username;
}

/** The spellings of an authenticated user that requests may carry (with and without the prefix). */
export function specNamesFor(username: string, prefix: string): string[] {
  return prefix && username.startsWith(prefix) ? [username, username.slice(prefix.length)] : [username];
}

/**
 * Whether `user` passes as an always-allowed identity. A configured user name matches as written,
 * or with `usernamePrefix` in front (the seed strips the prefix before matching): with
 * `--username-prefix=oidc:`, `alice` matches the authenticated `oidc:alice`. The prefix is the
 * apiserver's (OIDC `--oidc-username-prefix`), so no user can choose it. Only one leading prefix is
 * stripped, never one in the middle (the seed's strings.Replace would), and a configured name that
 * already carries the prefix is not matched again (`oidc:alice` never matches `oidc:oidc:alice`,
 * the user whose claim is `oidc:alice`).
 */
export function isAlwaysAllowed(user: UserInfo, config: Config): boolean {
  return (
    config.alwaysAllowedUsers.some(
      (name) => name !== '' && (name === user.username || canonicalUsername(name, config.usernamePrefix) === user.username),
    ) ||
    (user.groups ?? []).some((group) => config.alwaysAllowedGroups.includes(group))
  );
}

/** undefined for a one-shot request, milliseconds for a time-bound one, NaN when unparseable. */
export function validForMs(request: AccessRequest): number | undefined {
  const text = request.spec.validFor;
  if (!text) return undefined;
  return parseDuration(text) ?? Number.NaN;
}

function timestamp(text: string | null | undefined): number | undefined {
  if (!text) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * Whether `grant` speaks of this very request object. A grant binds to the request's uid, never
 * to its name: a request deleted and re-created under the same name (in the same second or not)
 * is a new object, and no earlier grant covers it. Grants without `spec.grantForUID` (written by
 * hand, or before grants carried it) are void: nothing proves which object they were made for.
 */
export function grantBelongsTo(grant: AccessGrant, request: AccessRequest, prefix: string): boolean {
  if (grant.spec.grantFor !== request.metadata.name) return false;
  if (grant.metadata.namespace && grant.metadata.namespace !== request.metadata.namespace) return false;
  if (!grant.spec.grantForUID || !request.metadata.uid || grant.spec.grantForUID !== request.metadata.uid) return false;
  // Defence in depth: a self-grant that slipped past admission (webhook not yet installed) is void.
  if (isSameUser(request.spec.userInfo.username, canonicalUsername(grant.spec.grantedBy.username, prefix), prefix)) return false;
  return true;
}

export type GrantState =
  | { state: 'pending' }
  | { state: 'denied'; grant: AccessGrant }
  | { state: 'granted'; grant: AccessGrant; expiresAt?: Date }
  /** A one-shot request whose one use went through. */
  | { state: 'used'; grant: AccessGrant; usedAt: Date }
  | { state: 'expired'; grant: AccessGrant; expiresAt: Date }
  | { state: 'invalid'; reason: string };

/**
 * The state of `request` at `now` given the grants that name it. A denial wins over any grant;
 * a time-bound request runs from the (earliest) grant's creation for `validFor`.
 */
export function evaluateGrant(
  request: AccessRequest,
  grants: readonly AccessGrant[],
  now: Date,
  prefix = '',
): GrantState {
  const own = grants.filter((grant) => grantBelongsTo(grant, request, prefix));
  const denied = own.find((grant) => grant.status === 'denied');
  if (denied) return { state: 'denied', grant: denied };
  const granted = own
    .filter((grant) => grant.status === 'granted')
    .sort((a, b) => (timestamp(a.metadata.creationTimestamp) ?? 0) - (timestamp(b.metadata.creationTimestamp) ?? 0))[0];
  if (!granted) return { state: 'pending' };
  const window = validForMs(request);
  if (window === undefined) {
    const usedAt = timestamp(request.status?.usedAt);
    return usedAt === undefined ? { state: 'granted', grant: granted } : { state: 'used', grant: granted, usedAt: new Date(usedAt) };
  }
  if (Number.isNaN(window)) return { state: 'invalid', reason: `spec.validFor "${request.spec.validFor}" is not a duration` };
  const start = timestamp(granted.metadata.creationTimestamp);
  if (start === undefined) return { state: 'invalid', reason: 'the AccessGrant has no creationTimestamp' };
  const expiresAt = new Date(start + window);
  return now.getTime() < expiresAt.getTime()
    ? { state: 'granted', grant: granted, expiresAt }
    : { state: 'expired', grant: granted, expiresAt };
}

/** POSIX shell quoting for commands we print for users to copy. */
export function shellQuote(args: readonly string[]): string {
  return args.map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`)).join(' ');
}
