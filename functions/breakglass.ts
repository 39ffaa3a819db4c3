// Break-glass: a member of an AccessPolicy's break-glass group grants their own request, with a
// reason, for a bounded window; another approver reviews it after the fact. Pure. Who may break
// glass is decided by the policies of the request's own namespace as they are now (any policy
// with a `breakGlass` rule that names one of the user's groups, and whose window fits), so
// removing the rule voids standing break-glass grants at once.
import { canonicalUsername, isSameUser } from './access.ts';
import { formatDuration, parseDuration } from './duration.ts';
import { brokenPolicy, policiesIn, type LoadedPolicy } from './policy.ts';
import type { AccessGrant, AccessRequest, UserInfo } from './schemas.ts';

/** The window of a break-glass grant when the policy does not say (`spec.breakGlass.maxValidFor`). */
export const DEFAULT_BREAK_GLASS_MAX_VALID_FOR = '1h';

/** True for a grant that claims to be a break-glass self-grant (whether it is valid is another matter). */
export function isBreakGlassGrant(grant: AccessGrant): boolean {
  return grant.spec.breakGlass === true && grant.status === 'granted';
}

/** A grant written by the requester of `request` themselves. */
export function isSelfGrant(grant: AccessGrant, request: AccessRequest, prefix: string): boolean {
  return isSameUser(request.spec.userInfo.username, canonicalUsername(grant.spec.grantedBy.username, prefix), prefix);
}

/** Whether `grant` names this very request object (namespace, name and uid). */
function names(grant: AccessGrant, request: AccessRequest): boolean {
  return (
    grant.spec.grantFor === request.metadata.name &&
    (!grant.metadata.namespace || grant.metadata.namespace === request.metadata.namespace) &&
    !!request.metadata.uid &&
    grant.spec.grantForUID === request.metadata.uid
  );
}

/** What break-glass looks like in a namespace, for messages and `kubectl request policy`. */
export interface BreakGlassRule {
  policy: string;
  groups: string[];
  /** The longest window, normalised ("1h"); undefined when the policy's value is not a duration. */
  maxValidFor?: string;
  maxValidForMs?: number;
}

/** The break-glass rules of `namespace`'s policies, by policy name. */
export function breakGlassRules(namespace: string, policies: readonly LoadedPolicy[]): BreakGlassRule[] {
  return policiesIn(namespace, policies).flatMap((policy) => {
    const rule = policy.spec.breakGlass;
    if (!rule) return [];
    const text = rule.maxValidFor || DEFAULT_BREAK_GLASS_MAX_VALID_FOR;
    const ms = parseDuration(text);
    const valid = ms !== undefined && ms > 0;
    return [
      {
        policy: `${policy.metadata.namespace}/${policy.metadata.name}`,
        groups: [...rule.groups],
        ...(valid ? { maxValidFor: formatDuration(ms), maxValidForMs: ms } : {}),
      },
    ];
  });
}

/**
 * Why `grant` is no valid break-glass grant for `request` under `policies`, or the policy it
 * stands under. `user` is the one whose groups count (the grantor at admission, the requester at
 * exec: the same person); without it (reconciler, cleanup, CLI) groups are not checked, and the
 * caller must not hand out anything that acts without the webhook on that answer alone.
 */
export function breakGlassVerdict(
  request: AccessRequest,
  grant: Pick<AccessGrant, 'spec' | 'status'>,
  policies: readonly LoadedPolicy[],
  user?: { username: string; groups?: readonly string[] },
): { policy: string } | { problem: string } {
  const namespace = request.metadata.namespace;
  if (grant.status !== 'granted')
    return { problem: `spec.breakGlass: a break-glass grant has status granted, not ${grant.status}` };
  if (!grant.spec.reason?.trim())
    return {
      problem: `spec.reason: a break-glass grant needs a reason (it is audited and reviewed); say why with --reason "..."`,
    };
  const broken = brokenPolicy(namespace, policies);
  if (broken) return { problem: broken };
  const rules = breakGlassRules(namespace, policies);
  if (rules.length === 0)
    return {
      problem: `no AccessPolicy of namespace ${namespace} allows break-glass; ask an approver to grant it: kubectl request grant -n ${namespace} ${request.metadata.name}`,
    };
  const member = user
    ? rules.filter((rule) => (user.groups ?? []).some((group) => rule.groups.includes(group)))
    : rules;
  if (member.length === 0) {
    const who = rules.map((rule) => `${rule.groups.join(', ')} (AccessPolicy ${rule.policy})`).join('; ');
    return {
      problem: `break-glass in namespace ${namespace} is for members of ${who}, and ${user!.username} is in none of them; ask an approver to grant it: kubectl request grant -n ${namespace} ${request.metadata.name}`,
    };
  }
  const asked = request.spec.validFor ? parseDuration(request.spec.validFor) : undefined;
  if (request.spec.validFor && asked === undefined)
    return { problem: `spec.validFor "${request.spec.validFor}" of the request is not a duration` };
  const fits = member.find(
    (rule) => rule.maxValidForMs !== undefined && (asked === undefined || asked <= rule.maxValidForMs),
  );
  if (fits) return { policy: fits.policy };
  const valid = member.filter((rule) => rule.maxValidForMs !== undefined);
  if (valid.length === 0)
    return {
      problem: `AccessPolicy ${member[0]!.policy} has an invalid spec.breakGlass.maxValidFor, so nobody can break glass in namespace ${namespace} until a namespace admin fixes it`,
    };
  const longest = valid.reduce((a, b) => (a.maxValidForMs! >= b.maxValidForMs! ? a : b));
  return {
    problem: `spec.validFor: break-glass under AccessPolicy ${longest.policy} allows at most ${longest.maxValidFor}, the request asks for ${request.spec.validFor}; request again with --valid-for ${longest.maxValidFor} or less (or once)`,
  };
}

/**
 * The break-glass grants recorded for this request object, whatever the policies say now: what
 * happened, for review and retention (not whether it still grants: see `evaluateGrant`).
 */
export function breakGlassGrantsOf(
  request: AccessRequest,
  grants: readonly AccessGrant[],
  prefix: string,
): AccessGrant[] {
  return grants.filter(
    (grant) => isBreakGlassGrant(grant) && names(grant, request) && isSelfGrant(grant, request, prefix),
  );
}

/** The reviews of this request object by someone other than its requester. */
export function reviewsOf(request: AccessRequest, grants: readonly AccessGrant[], prefix: string): AccessGrant[] {
  return grants.filter(
    (grant) => grant.status === 'reviewed' && names(grant, request) && !isSelfGrant(grant, request, prefix),
  );
}

/** Break-glass and review state of a request: undefined when it was never granted by break-glass. */
export interface ReviewState {
  breakGlass: AccessGrant;
  /** The review, once another approver made one. */
  reviewedBy?: AccessGrant;
}

export function reviewState(
  request: AccessRequest,
  grants: readonly AccessGrant[],
  prefix: string,
): ReviewState | undefined {
  const breakGlass = breakGlassGrantsOf(request, grants, prefix)[0];
  if (!breakGlass) return undefined;
  const reviewedBy = reviewsOf(request, grants, prefix)[0];
  return reviewedBy ? { breakGlass, reviewedBy } : { breakGlass };
}

/** A request granted by break-glass that nobody reviewed yet (used or not). */
export function needsReview(request: AccessRequest, grants: readonly AccessGrant[], prefix: string): boolean {
  const state = reviewState(request, grants, prefix);
  return !!state && !state.reviewedBy;
}
