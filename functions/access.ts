// Shared policy: who a request belongs to and whether it is granted at a given time. Used by the
// admission concerns and by the reconciler and cleanup, so all agree on one answer.
import { parseDuration } from './duration.ts';
import type { AccessGrant, AccessRequest, UserInfo } from './schemas.ts';
import { approvalFor, type LoadedPolicy } from './policy.ts';
import { breakGlassVerdict, isBreakGlassGrant } from './breakglass.ts';
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
      (name) =>
        name !== '' && (name === user.username || canonicalUsername(name, config.usernamePrefix) === user.username),
    ) || (user.groups ?? []).some((group) => config.alwaysAllowedGroups.includes(group))
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
export function grantBelongsTo(
  grant: AccessGrant,
  request: AccessRequest,
  prefix: string,
  policies: readonly LoadedPolicy[] = [],
): boolean {
  if (grant.spec.grantFor !== request.metadata.name) return false;
  if (grant.metadata.namespace && grant.metadata.namespace !== request.metadata.namespace) return false;
  if (!grant.spec.grantForUID || !request.metadata.uid || grant.spec.grantForUID !== request.metadata.uid) return false;
  // Defence in depth: a self-grant that slipped past admission (webhook not yet installed) is void,
  // unless it is a break-glass grant that the namespace's policies allow now (reason, window). Group
  // membership is not known here: evaluateGrant checks it where the user is known (at exec).
  if (isSameUser(request.spec.userInfo.username, canonicalUsername(grant.spec.grantedBy.username, prefix), prefix))
    return isBreakGlassGrant(grant) && 'policy' in breakGlassVerdict(request, grant, policies);
  return true;
}

export type GrantState =
  /** Waiting for approvals: `approvals` of `required` distinct approvers granted so far (by `approvedBy`). */
  | { state: 'pending'; approvals: number; required: number; approvedBy: string[] }
  | { state: 'denied'; grant: AccessGrant }
  /**
   * `grant` is the approval that completed it (the Nth; its creation starts a window), `grants` all
   * counted approvals. Pre-approved by a policy: `policy` names it, `grants` is empty and `grant`
   * stands for the policy (grantedBy `AccessPolicy/NAME`, dated at the request's creation).
   */
  /**
   * `uses` consumed so far of `maxUses` (absent: any number within the window); `maxUses` and
   * `expiresAt` are the narrowest of the request and its counted approvals (functions/grant).
   */
  | {
      state: 'granted';
      grant: AccessGrant;
      grants: AccessGrant[];
      policy?: string;
      expiresAt?: Date;
      /**
       * Granted by the requester's own break-glass grant (`grant`, also the one in `grants`) under
       * the AccessPolicy `policy` (namespace/name). Makes no RoleBinding (functions/reconcile).
       */
      breakGlass?: { policy: string };
      uses: number;
      maxUses?: number;
    }
  /** A request whose last allowed use went through (a one-shot request: its one use). */
  | { state: 'used'; grant: AccessGrant; usedAt: Date; uses: number; maxUses: number }
  | { state: 'expired'; grant: AccessGrant; expiresAt: Date }
  | { state: 'invalid'; reason: string };

/** Who an approval counts as: grants by one approver count once, however many they create. */
function approverOf(grant: AccessGrant, prefix: string): string {
  return canonicalUsername(grant.spec.grantedBy.username, prefix);
}

/**
 * What a pre-approval by a policy looks like where a grant is expected: no object of the cluster,
 * never written, dated at the request's creation (so a time-bound request runs from then).
 */
export function policyGrant(request: AccessRequest, policy: string): AccessGrant {
  return {
    apiVersion: request.apiVersion,
    kind: 'AccessGrant',
    metadata: {
      name: '',
      namespace: request.metadata.namespace,
      uid: '',
      resourceVersion: '',
      creationTimestamp: request.metadata.creationTimestamp ?? null,
    },
    spec: {
      grantFor: request.metadata.name,
      grantForUID: request.metadata.uid,
      grantedBy: { username: `AccessPolicy/${policy}` },
    },
    status: 'granted',
  };
}

/** Uses consumed so far: `status.uses`, or 1 for a one-shot request marked used before uses were counted. */
export function usesOf(request: Pick<AccessRequest, 'status'>): number {
  return request.status?.uses ?? (request.status?.usedAt ? 1 : 0);
}

/**
 * What the counted approvals leave of the request: the narrowest window and number of uses of
 * the request and each approval. An approval never widens (the webhook refuses that, and this
 * takes the minimum anyway); a window on an approval of a one-shot request is ignored (one use
 * stays one use). `maxUses` undefined: any number of uses within the window.
 */
export function grantScope(
  request: AccessRequest,
  approvals: readonly AccessGrant[],
): { windowMs?: number; maxUses?: number } | { invalid: string } {
  let windowMs = validForMs(request);
  if (windowMs !== undefined && Number.isNaN(windowMs))
    return { invalid: `spec.validFor "${request.spec.validFor}" is not a duration` };
  let maxUses = request.spec.maxUses ?? (windowMs === undefined ? 1 : undefined);
  for (const approval of approvals) {
    if (approval.spec.validFor && windowMs !== undefined) {
      const narrowed = parseDuration(approval.spec.validFor);
      if (narrowed === undefined)
        return {
          invalid: `AccessGrant ${approval.metadata.name} has spec.validFor "${approval.spec.validFor}", not a duration`,
        };
      windowMs = Math.min(windowMs, narrowed);
    }
    if (approval.spec.maxUses !== undefined)
      maxUses = Math.min(maxUses ?? approval.spec.maxUses, approval.spec.maxUses);
  }
  return { ...(windowMs !== undefined ? { windowMs } : {}), ...(maxUses !== undefined ? { maxUses } : {}) };
}

/**
 * The state of `request` at `now` given the grants that name it and the AccessPolicies (of any
 * namespace: only the request's own apply). A denial wins over any grant; a request is granted
 * once `requiredApprovals` distinct approvers granted it (one without a policy), or when a policy
 * pre-approves its exact command; a time-bound request runs for `validFor` from the approval that
 * completed it (the Nth), or from its creation when pre-approved.
 */
export function evaluateGrant(
  request: AccessRequest,
  grants: readonly AccessGrant[],
  now: Date,
  prefix = '',
  policies: readonly LoadedPolicy[] = [],
  /**
   * The user who would use the request (the exec's, who is its requester): a break-glass grant
   * counts only while they are in a break-glass group. Without it, groups are not checked.
   */
  user?: { username: string; groups?: readonly string[] },
): GrantState {
  const approval = approvalFor(request, policies);
  if (approval.broken) return { state: 'invalid', reason: approval.broken };
  const own = grants.filter((grant) => grantBelongsTo(grant, request, prefix, policies));
  const denied = own.find((grant) => grant.status === 'denied');
  if (denied) return { state: 'denied', grant: denied };
  // Self-grants left in `own` are break-glass grants the policies allow; now the user's groups.
  let glass: { grant: AccessGrant; policy: string } | undefined;
  let glassProblem: string | undefined;
  for (const grant of own.filter(
    (g) => isBreakGlassGrant(g) && isSameUser(request.spec.userInfo.username, approverOf(g, prefix), prefix),
  )) {
    const verdict = breakGlassVerdict(request, grant, policies, user);
    if ('policy' in verdict) {
      glass ??= { grant, policy: verdict.policy };
    } else glassProblem ??= `the break-glass AccessGrant ${grant.metadata.name} does not count: ${verdict.problem}`;
  }
  const approvals: AccessGrant[] = [];
  const approvedBy: string[] = [];
  for (const grant of own
    .filter((grant) => grant.status === 'granted' && !isBreakGlassGrant(grant))
    .sort((a, b) => (timestamp(a.metadata.creationTimestamp) ?? 0) - (timestamp(b.metadata.creationTimestamp) ?? 0))) {
    const approver = approverOf(grant, prefix);
    if (approvedBy.includes(approver)) continue;
    approvedBy.push(approver);
    approvals.push(grant);
    if (approvals.length === approval.required) break;
  }
  const complete = approvals.length >= approval.required;
  if (!complete && !glass && !approval.preApprovedBy) {
    if (glassProblem) return { state: 'invalid', reason: glassProblem };
    return { state: 'pending', approvals: approvals.length, required: approval.required, approvedBy };
  }
  // Ordinary approvals first; else the break-glass grant alone grants (whatever requiredApprovals says).
  const granted = complete
    ? approvals[approvals.length - 1]!
    : glass
      ? glass.grant
      : policyGrant(request, approval.preApprovedBy!);
  const by = complete
    ? { grants: approvals }
    : glass
      ? { grants: [glass.grant], breakGlass: { policy: glass.policy } }
      : { grants: [], policy: approval.preApprovedBy! };
  const scope = grantScope(request, complete ? approvals : glass ? [glass.grant] : []);
  if ('invalid' in scope) return { state: 'invalid', reason: scope.invalid };
  const uses = usesOf(request);
  const counted = scope.maxUses === undefined ? {} : { maxUses: scope.maxUses };
  if (scope.maxUses !== undefined && uses >= scope.maxUses) {
    // Used up. usedAt is written with the last use; without it (hand-written status) the request's creation stands in.
    const usedAt = timestamp(request.status?.usedAt) ?? timestamp(request.metadata.creationTimestamp) ?? 0;
    return { state: 'used', grant: granted, usedAt: new Date(usedAt), uses, maxUses: scope.maxUses };
  }
  if (scope.windowMs === undefined) return { state: 'granted', grant: granted, ...by, uses, ...counted };
  const start = timestamp(granted.metadata.creationTimestamp);
  if (start === undefined)
    return {
      state: 'invalid',
      reason:
        complete || glass ? 'the AccessGrant has no creationTimestamp' : 'the AccessRequest has no creationTimestamp',
    };
  const expiresAt = new Date(start + scope.windowMs);
  return now.getTime() < expiresAt.getTime()
    ? { state: 'granted', grant: granted, ...by, expiresAt, uses, ...counted }
    : { state: 'expired', grant: granted, expiresAt };
}

/** POSIX shell quoting for commands we print for users to copy. */
export function shellQuote(args: readonly string[]): string {
  return args.map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`)).join(' ');
}
