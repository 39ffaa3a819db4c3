// What the AccessPolicies of a namespace would do with a request, for `kubectl request policy`.
// Pure, and built only from the rules the webhook runs (approvalFor, preApproval,
// requestLimitProblem, approverProblem's lists, breakGlassVerdict), so the explanation cannot
// drift from the decision.
import { breakGlassRules, breakGlassVerdict, type BreakGlassRule } from './breakglass.ts';
import { approvalFor, brokenPolicy, policiesIn, requestLimitProblem, type LoadedPolicy } from './policy.ts';
import type { AccessRequest } from './schemas.ts';

export interface PolicyExplanation {
  namespace: string;
  /** The policies that govern the namespace, by name. */
  policies: string[];
  /** A malformed policy: nothing is requested or granted there until it is fixed. */
  broken?: string;
  /** Why this request would be refused at creation (kinds, window), reason and keys aside. */
  refused?: string;
  /** The policy that pre-approves this exact command. */
  preApprovedBy?: string;
  /** Distinct approvers needed. */
  required: number;
  /** Who may approve, per policy that names approvers (an approver must be named by every one). */
  approvers: { policy: string; users: string[]; groups: string[] }[];
  /** Required at creation: a reason (names of the policies asking), custom keys. */
  requireReason: string[];
  customKeys: { policy: string; key: string; pattern?: string; description?: string }[];
  /** Every pre-approved command of the namespace. */
  preApproved: { policy: string; command: string[]; container?: string }[];
  breakGlass: {
    rules: BreakGlassRule[];
    /** For `user`: the policy it would stand under, or why not. */
    available?: string;
    unavailable?: string;
  };
}

export function explainPolicies(
  request: AccessRequest,
  kind: string,
  policies: readonly LoadedPolicy[],
  user: { username: string; groups?: readonly string[] },
): PolicyExplanation {
  const namespace = request.metadata.namespace;
  const own = policiesIn(namespace, policies);
  const broken = brokenPolicy(namespace, own);
  const approval = approvalFor(request, own);
  // Reason and custom keys are listed as requirements; only what no flag can fix is a refusal.
  const limitsOnly = own.map((policy) => ({
    ...policy,
    spec: { ...policy.spec, requireReason: false, requiredCustomKeys: [] },
  }));
  const refused = broken ? undefined : requestLimitProblem(request, kind, limitsOnly);
  const glass = breakGlassVerdict(
    request,
    {
      spec: { grantFor: request.metadata.name, grantedBy: { username: user.username }, reason: 'explain' },
      status: 'granted',
    },
    own,
    { username: user.username, groups: user.groups ?? [] },
  );
  return {
    namespace,
    policies: own.map((policy) => policy.metadata.name),
    ...(broken ? { broken } : {}),
    ...(refused ? { refused } : {}),
    ...(approval.preApprovedBy ? { preApprovedBy: approval.preApprovedBy } : {}),
    required: approval.required,
    approvers: own.flatMap((policy) => {
      const users = policy.spec.approvers?.users ?? [];
      const groups = policy.spec.approvers?.groups ?? [];
      return users.length || groups.length ? [{ policy: policy.metadata.name, users, groups }] : [];
    }),
    requireReason: own.filter((policy) => policy.spec.requireReason).map((policy) => policy.metadata.name),
    customKeys: own.flatMap((policy) =>
      policy.spec.requiredCustomKeys.map((required) => ({ policy: policy.metadata.name, ...required })),
    ),
    preApproved: own.flatMap((policy) =>
      policy.spec.preApproved.map((entry) => ({
        policy: policy.metadata.name,
        command: entry.command,
        ...(entry.container !== undefined ? { container: entry.container } : {}),
      })),
    ),
    breakGlass: {
      rules: breakGlassRules(namespace, own),
      ...('policy' in glass ? { available: glass.policy } : { unavailable: glass.problem }),
    },
  };
}
