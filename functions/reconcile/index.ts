// Which RoleBindings should exist, given the persisted AccessRequests and AccessGrants at `now`.
// Pure: the Kubernetes adapter lists, calls `desiredRoleBindings` and `planRoleBindings`, and
// carries out the plan. Level-triggered: the same inputs always give the same answer, so a
// deleted binding is re-created and an expired one removed on the next pass.
import { API_VERSION, type AccessGrant, type AccessRequest } from '../schemas.ts';
import { canonicalUsername, evaluateGrant } from '../access.ts';
import type { LoadedPolicy } from '../policy.ts';

export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'kube-request-access';
export const REQUEST_ANNOTATION = 'kube-request-access.io/access-request';
export const GRANT_ANNOTATION = 'kube-request-access.io/access-grant';
export const EXPIRES_ANNOTATION = 'kube-request-access.io/expires-at';
/** On a binding for a request pre-approved by an AccessPolicy (no AccessGrant): the policy's name. */
export const POLICY_ANNOTATION = 'kube-request-access.io/access-policy';
const RBAC_GROUP = 'rbac.authorization.k8s.io';

export interface ReconcileConfig {
  /** The role bound while a grant lasts; no bindings at all when undefined. */
  grantedRoleName?: string;
  grantedRoleKind: 'Role' | 'ClusterRole';
  /** Prefix the apiserver puts before user names; a request may omit it. */
  usernamePrefix: string;
  /**
   * Namespaces the exec webhook does not gate: a binding there would be unchecked exec into every
   * pod of the namespace, so none is ever made (and one found there is removed).
   */
  ungatedNamespaces: readonly string[];
}

/** The parts of an rbac.authorization.k8s.io/v1 RoleBinding we manage. */
export interface RoleBinding {
  apiVersion: 'rbac.authorization.k8s.io/v1';
  kind: 'RoleBinding';
  metadata: {
    name: string;
    namespace: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
    ownerReferences: {
      apiVersion: string;
      kind: string;
      name: string;
      uid: string;
      controller: boolean;
      blockOwnerDeletion: boolean;
    }[];
    resourceVersion?: string;
  };
  roleRef: { apiGroup: string; kind: string; name: string };
  subjects: { kind: 'User'; apiGroup: string; name: string }[];
}

/** What the cluster holds: any RoleBinding carrying our label (fields read loosely). */
export interface ExistingRoleBinding {
  metadata?: {
    name?: string;
    namespace?: string;
    resourceVersion?: string;
    annotations?: Record<string, string>;
    ownerReferences?: { uid?: string }[];
  };
  roleRef?: { apiGroup?: string; kind?: string; name?: string };
  subjects?: { kind?: string; apiGroup?: string; name?: string; namespace?: string }[];
}

export interface DesiredState {
  bindings: RoleBinding[];
  /** When the answer changes by itself (the earliest expiry); undefined when nothing expires. */
  nextChangeAt?: Date;
}

/** The name the apiserver authenticates: the request's user name with the prefix added if omitted. */
export const authenticatedName = canonicalUsername;

/** A deterministic, valid RoleBinding name for a request (≤ 253 characters). */
export function roleBindingName(requestName: string): string {
  const name = `kube-request-access.${requestName}`;
  if (name.length <= 253) return name;
  return `${name.slice(0, 240)}-${fnv1a(requestName)}`;
}

export function desiredRoleBindings(input: {
  requests: readonly AccessRequest[];
  /** All grants; matched to requests by namespace and `grantFor`. */
  grants: readonly AccessGrant[];
  /** The AccessPolicies (each request is judged by its own namespace's): approvals required, pre-approvals. */
  policies?: readonly LoadedPolicy[];
  now: Date;
  config: ReconcileConfig;
}): DesiredState {
  const { config, now } = input;
  if (!config.grantedRoleName) return { bindings: [] };
  const grantsByRequest = new Map<string, AccessGrant[]>();
  for (const grant of input.grants) {
    const key = `${grant.metadata.namespace}/${grant.spec.grantFor}`;
    const list = grantsByRequest.get(key) ?? [];
    list.push(grant);
    grantsByRequest.set(key, list);
  }
  const bindings: RoleBinding[] = [];
  let nextChangeAt: Date | undefined;
  for (const request of input.requests) {
    const { namespace, name, uid } = request.metadata;
    if (!namespace || !name || !uid) continue;
    if (request.metadata.deletionTimestamp) continue;
    // A request about another namespace never earns a binding here.
    if (request.spec.forObject.namespace !== namespace) continue;
    if (config.ungatedNamespaces.includes(namespace)) continue;
    const requester = authenticatedName(request.spec.userInfo.username, config.usernamePrefix);
    // evaluateGrant also voids self-grants that bypassed admission (webhook removed as break-glass).
    const grants = grantsByRequest.get(`${namespace}/${name}`) ?? [];
    const verdict = evaluateGrant(request, grants, now, config.usernamePrefix, input.policies);
    if (verdict.state !== 'granted' || verdict.grant.status !== 'granted') continue;
    // No binding for break-glass: a RoleBinding acts without the webhook, and only the webhook
    // sees the requester's groups (docs/security.md). The break-glass group holds its own exec RBAC.
    if (verdict.breakGlass) continue;
    if (verdict.expiresAt && (!nextChangeAt || verdict.expiresAt < nextChangeAt)) {
      nextChangeAt = verdict.expiresAt;
    }
    // Every approval that counted (comma-separated), or the policy that pre-approved it.
    const annotations: Record<string, string> = verdict.policy
      ? { [REQUEST_ANNOTATION]: name, [POLICY_ANNOTATION]: verdict.policy }
      : {
          [REQUEST_ANNOTATION]: name,
          [GRANT_ANNOTATION]: verdict.grants.map((grant) => grant.metadata.name).join(','),
        };
    if (verdict.expiresAt) annotations[EXPIRES_ANNOTATION] = verdict.expiresAt.toISOString();
    bindings.push({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: {
        name: roleBindingName(name),
        namespace,
        labels: { [MANAGED_BY_LABEL]: MANAGED_BY },
        annotations,
        ownerReferences: [
          {
            apiVersion: API_VERSION,
            kind: 'AccessRequest',
            name,
            uid,
            controller: true,
            blockOwnerDeletion: false,
          },
        ],
      },
      roleRef: { apiGroup: RBAC_GROUP, kind: config.grantedRoleKind, name: config.grantedRoleName },
      subjects: [{ kind: 'User', apiGroup: RBAC_GROUP, name: requester }],
    });
  }
  return nextChangeAt ? { bindings, nextChangeAt } : { bindings };
}

export interface RoleBindingPlan {
  create: RoleBinding[];
  /** Same name, other subjects/owner/annotations: replace in place (carries resourceVersion). */
  update: RoleBinding[];
  /** Ours but not desired, or with another roleRef (immutable: delete, then create next pass). */
  delete: { namespace: string; name: string }[];
}

/** The actions that turn `existing` (our labelled bindings) into `desired`. */
export function planRoleBindings(
  desired: readonly RoleBinding[],
  existing: readonly ExistingRoleBinding[],
): RoleBindingPlan {
  const plan: RoleBindingPlan = { create: [], update: [], delete: [] };
  const current = new Map<string, ExistingRoleBinding>();
  for (const binding of existing) {
    const { namespace, name } = binding.metadata ?? {};
    if (namespace && name) current.set(`${namespace}/${name}`, binding);
  }
  const wanted = new Set<string>();
  for (const binding of desired) {
    const key = `${binding.metadata.namespace}/${binding.metadata.name}`;
    wanted.add(key);
    const found = current.get(key);
    if (!found) {
      plan.create.push(binding);
    } else if (!sameRoleRef(found, binding)) {
      plan.delete.push({ namespace: binding.metadata.namespace, name: binding.metadata.name });
      plan.create.push(binding);
    } else if (!sameContent(found, binding)) {
      const resourceVersion = found.metadata?.resourceVersion;
      plan.update.push(resourceVersion ? { ...binding, metadata: { ...binding.metadata, resourceVersion } } : binding);
    }
  }
  for (const [key, binding] of current) {
    if (wanted.has(key)) continue;
    plan.delete.push({ namespace: binding.metadata!.namespace!, name: binding.metadata!.name! });
  }
  return plan;
}

function sameRoleRef(a: ExistingRoleBinding, b: RoleBinding): boolean {
  return (
    a.roleRef?.kind === b.roleRef.kind &&
    a.roleRef?.name === b.roleRef.name &&
    a.roleRef?.apiGroup === b.roleRef.apiGroup
  );
}

function sameContent(a: ExistingRoleBinding, b: RoleBinding): boolean {
  const subjects = a.subjects ?? [];
  if (subjects.length !== b.subjects.length) return false;
  for (const [i, s] of b.subjects.entries()) {
    const t = subjects[i];
    if (!t || t.kind !== s.kind || t.name !== s.name || (t.apiGroup ?? RBAC_GROUP) !== s.apiGroup || t.namespace)
      return false;
  }
  const owners = a.metadata?.ownerReferences ?? [];
  if (owners.length !== 1 || owners[0]?.uid !== b.metadata.ownerReferences[0]?.uid) return false;
  const annotations = a.metadata?.annotations ?? {};
  return Object.entries(b.metadata.annotations).every(([k, v]) => annotations[k] === v);
}

function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}
