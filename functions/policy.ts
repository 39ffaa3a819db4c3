// AccessPolicies: what the policies of a namespace say about one request. Pure. Every policy of
// the request's own namespace applies and the strictest wins: the most approvals, an approver
// listed by every policy that names approvers, every limit of every policy. With none, each
// answer is today's (one approval, RBAC decides who, no limits beyond the server's flags).
import * as v from 'valibot';
import { canonicalUsername } from './access.ts';
import { formatDuration, parseDuration } from './duration.ts';
import { AccessPolicy, describeIssues, type AccessRequest, type UserInfo } from './schemas.ts';

/**
 * A policy as the adapters hand it over. `malformed` marks an object that does not parse: it is
 * kept (not dropped, as a malformed request is), and nothing in its namespace is granted or
 * requested until it is fixed. Dropping it would silently loosen what it tightened.
 */
export type LoadedPolicy = AccessPolicy & { malformed?: string };

/** Parses a policy read from the cluster; undefined only for an object without name or namespace. */
export function readPolicy(object: unknown): LoadedPolicy | undefined {
  const parsed = v.safeParse(AccessPolicy, object);
  if (parsed.success) return parsed.output;
  const metadata = (object as { metadata?: { name?: unknown; namespace?: unknown } } | null)?.metadata;
  const name = typeof metadata?.name === 'string' ? metadata.name : '';
  const namespace = typeof metadata?.namespace === 'string' ? metadata.namespace : '';
  if (!name || !namespace) return undefined;
  return {
    kind: 'AccessPolicy',
    metadata: { name, namespace, uid: '', resourceVersion: '' },
    spec: { requiredApprovals: 1, requireReason: false, requiredCustomKeys: [], preApproved: [] },
    malformed: describeIssues(parsed.issues),
  };
}

/** The policies that govern `namespace`, by name (so messages name the same one every time). */
export function policiesIn(namespace: string, policies: readonly LoadedPolicy[]): LoadedPolicy[] {
  return policies
    .filter((policy) => policy.metadata.namespace === namespace)
    .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0));
}

function label(policy: LoadedPolicy): string {
  return `AccessPolicy ${policy.metadata.namespace}/${policy.metadata.name}`;
}

/** Why nothing can be decided in this namespace (a malformed policy), or undefined. */
export function brokenPolicy(namespace: string, policies: readonly LoadedPolicy[]): string | undefined {
  const broken = policiesIn(namespace, policies).find((policy) => policy.malformed);
  return broken
    ? `${label(broken)} is malformed (${broken.malformed}), and nothing is granted in namespace ${namespace} until a namespace admin fixes it`
    : undefined;
}

/** What it takes to grant `request` under the policies of its namespace. */
export interface Approval {
  /** Distinct approvers who must grant (1 without a policy). */
  required: number;
  /** The policy that pre-approves the request's exact command, if one does. */
  preApprovedBy?: string;
  /** Why nothing can be granted (a malformed policy), if so. */
  broken?: string;
}

export function approvalFor(request: AccessRequest, policies: readonly LoadedPolicy[]): Approval {
  const namespace = request.metadata.namespace;
  const own = policiesIn(namespace, policies);
  if (own.length === 0) return { required: 1 };
  const broken = brokenPolicy(namespace, own);
  if (broken) return { required: 1, broken };
  const required = Math.max(1, ...own.map((policy) => policy.spec.requiredApprovals));
  const preApprovedBy = preApproval(request, own);
  return preApprovedBy ? { required, preApprovedBy } : { required };
}

/**
 * The policy whose `preApproved` list holds this request's exact exec command (and container,
 * where the entry names one), or undefined. Only exec on pods/exec with a command, never a copy
 * into the pod (stdin) and never an interactive session.
 */
export function preApproval(request: AccessRequest, policies: readonly LoadedPolicy[]): string | undefined {
  const { spec } = request;
  const exec = spec.execOptions;
  if (
    spec.forObject.subResource !== 'exec' ||
    spec.copyOptions ||
    !exec ||
    exec.stdin ||
    exec.tty ||
    exec.command.length === 0
  )
    return undefined;
  const policy = policiesIn(request.metadata.namespace, policies).find((candidate) =>
    candidate.spec.preApproved.some(
      (entry) =>
        (entry.container === undefined || entry.container === exec.container) &&
        entry.command.length === exec.command.length &&
        entry.command.every((arg, i) => arg === exec.command[i]),
    ),
  );
  return policy?.metadata.name;
}

/**
 * Why `user` may not decide on requests in `namespace`: a policy there names approvers and
 * `user` is none of them. RBAC (create accessgrants) is asked by the apiserver before this; a
 * policy only narrows who of those may decide, never widens it.
 */
export function approverProblem(
  user: UserInfo,
  namespace: string,
  policies: readonly LoadedPolicy[],
  prefix: string,
): string | undefined {
  for (const policy of policiesIn(namespace, policies)) {
    const users = policy.spec.approvers?.users ?? [];
    const groups = policy.spec.approvers?.groups ?? [];
    if (users.length === 0 && groups.length === 0) continue;
    const listed =
      users.some((name) => canonicalUsername(name, prefix) === user.username) ||
      (user.groups ?? []).some((group) => groups.includes(group));
    if (!listed) {
      const who = [...users.map((name) => `user ${name}`), ...groups.map((group) => `group ${group}`)].join(', ');
      return `${label(policy)} names the approvers of requests in namespace ${namespace} (${who}), and ${user.username} is not one of them; ask one of them to decide`;
    }
  }
  return undefined;
}

/** A custom key's value is matched against an admin's pattern: bounded, so no pattern runs long. */
export const MAX_CUSTOM_KEY_LENGTH = 256;

/**
 * Request-time limits of the policies (checked when the request is created, before an approver
 * sees it): the kinds of access, the longest window, a reason, required custom keys. The first
 * problem found, naming the policy and what to do, or undefined.
 */
export function requestLimitProblem(
  request: AccessRequest,
  kind: string,
  policies: readonly LoadedPolicy[],
): string | undefined {
  const namespace = request.metadata.namespace || request.spec.forObject.namespace;
  const { spec } = request;
  const own = policiesIn(namespace, policies);
  const broken = brokenPolicy(namespace, own);
  if (broken) return broken;
  for (const policy of own) {
    const name = label(policy);
    const { allowedKinds, maxValidFor, requireReason, requiredCustomKeys } = policy.spec;
    if (allowedKinds && !allowedKinds.includes(kind)) {
      return allowedKinds.length
        ? `${name} allows only ${allowedKinds.join(', ')} requests in namespace ${namespace}, not ${kind}; ask a namespace admin if you need ${kind}`
        : `${name} allows no requests in namespace ${namespace}; ask a namespace admin`;
    }
    if (maxValidFor) {
      const max = parseDuration(maxValidFor);
      if (max === undefined || max <= 0) {
        return `${name} has an invalid spec.maxValidFor "${maxValidFor}", so nothing can be requested in namespace ${namespace} until a namespace admin fixes it`;
      }
      const asked = spec.validFor ? parseDuration(spec.validFor) : undefined;
      if (asked !== undefined && asked > max) {
        return `spec.validFor: ${name} allows at most ${formatDuration(max)}, requested ${spec.validFor}; ask for --valid-for ${formatDuration(max)} or less`;
      }
    }
    if (requireReason && !spec.reason?.trim()) {
      return `spec.reason: ${name} requires a reason; say why you need the access with --reason "..."`;
    }
    for (const required of requiredCustomKeys) {
      const value = spec.customKeys?.[required.key];
      const what = required.description ? ` (${required.description})` : '';
      const shape = required.pattern ? ` matching ${required.pattern}` : '';
      if (value === undefined || value === '') {
        return `spec.customKeys.${required.key}: ${name} requires the custom key ${required.key}${what}${shape}; add --key ${required.key}=VALUE`;
      }
      if (!required.pattern) continue;
      let pattern: RegExp;
      try {
        pattern = new RegExp(required.pattern, 'u');
      } catch {
        return `${name} has an invalid pattern for custom key ${required.key} (${required.pattern}), so nothing can be requested in namespace ${namespace} until a namespace admin fixes it`;
      }
      if (value.length > MAX_CUSTOM_KEY_LENGTH || !pattern.test(value)) {
        return `spec.customKeys.${required.key}: ${name} requires ${required.key}${what} to match ${required.pattern}, got "${value.slice(0, 80)}"; give the right value with --key ${required.key}=VALUE`;
      }
    }
  }
  return undefined;
}
