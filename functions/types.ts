// The contract between the pure policy (functions/) and the shell (adapters/).
// A concern reads the cluster only through `Lookup`, reads time only from `Context.now`, and
// answers with a `Decision` as plain data: the shell carries out its effects and audit events.
import type {
  AccessGrant,
  AccessRequest,
  AccessRequestStatus,
  AdmissionRequest,
  PodExecOptions,
  UserInfo,
} from './schemas.ts';
import type { LoadedPolicy } from './policy.ts';

/** What the extended-validation webhook answers (seed wire format). */
export interface ValidationResult {
  status: 'valid' | 'invalid';
  message?: string;
}

/** Read-only view of the cluster. */
export interface Lookup {
  /**
   * AccessRequests in `namespace` whose `spec.forObject.name` is `pod` and whose
   * `spec.userInfo.username` is one of `usernames`. Implementations answer from an index.
   */
  accessRequestsFor(query: {
    namespace: string;
    pod: string;
    usernames: readonly string[];
  }): Promise<readonly AccessRequest[]>;
  /**
   * One AccessRequest by namespace and name. A cache-backed implementation asks the API server
   * once (bounded by a short timeout) when the cache has no such object, or has one whose uid is
   * not `expect.uid`: a request created a moment ago must not be refused for a lagging cache.
   */
  accessRequest(namespace: string, name: string, expect?: { uid?: string }): Promise<AccessRequest | undefined>;
  /**
   * Whether `user` may do `verb` on `resource` in `namespace`, as the cluster's authorizer says
   * (a SubjectAccessReview). Read-only; false where no authorizer is available (memory mode).
   */
  isAuthorized(user: UserInfo, attributes: ResourceAttributes): Promise<boolean>;
  /** AccessGrants in `namespace` whose `spec.grantFor` is `requestName`. */
  grantsFor(namespace: string, requestName: string): Promise<readonly AccessGrant[]>;
  /**
   * The AccessPolicies of `namespace` (none = today's behaviour). A policy that does not parse is
   * returned marked `malformed`, never dropped: it fails its namespace closed (functions/policy.ts).
   */
  policiesFor(namespace: string): Promise<readonly LoadedPolicy[]>;
  /**
   * The uid of pod `namespace/name`, undefined when there is no such pod. A live read bounded by
   * the same short timeout as the other review-time calls; asked only for a request pinned to a
   * pod (spec.forObject.uid), since exec, attach and port-forward reviews carry no pod uid. An
   * error rejects (the review fails closed).
   */
  podUID(namespace: string, name: string): Promise<string | undefined>;
}

/**
 * The extended-validation webhook, a read-only port of its own beside `Lookup`: answers `valid`
 * when none is configured; rejects (and the shell denies) when it cannot be asked.
 */
export interface Validator {
  validateAccessRequest(data: { request: AdmissionRequest; accessRequest: AccessRequest }): Promise<ValidationResult>;
}

/** The validator of a server without an extended-validation webhook. */
export const NO_VALIDATOR: Validator = { validateAccessRequest: async () => ({ status: 'valid' }) };

/** What a SubjectAccessReview asks about, in the API's own field names. */
export interface ResourceAttributes {
  verb: string;
  group: string;
  resource: string;
  namespace: string;
}

export interface Config {
  /** Members of these groups pass every exec without a request (audited as admin). */
  alwaysAllowedGroups: readonly string[];
  /** These users pass every exec without a request (audited as admin). */
  alwaysAllowedUsers: readonly string[];
  /**
   * The prefix the apiserver puts before user names (OIDC's `oidc:`). An AccessRequest may name
   * its user with or without it; a name without it is read as prefix + name.
   */
  usernamePrefix: string;
  /** Longest `validFor` accepted, in milliseconds (default 12h). */
  maxValidForMs: number;
  /**
   * Namespaces the exec webhook does not gate (its namespaceSelector excludes them). Requests for
   * pods there are refused and no RoleBinding is ever made there: access that nothing checks is
   * never handed out. Must equal the exclusions of the ValidatingWebhookConfiguration.
   */
  ungatedNamespaces: readonly string[];
  /**
   * Identities of the webhook server itself (found with a SelfSubjectReview at start): they delete
   * AccessRequests to consume one-shot requests and clean up expired ones.
   */
  selfUsernames: readonly string[];
}

/**
 * The kube-controller-manager identities that delete objects on behalf of the cluster: namespace
 * deletion and garbage collection (with --use-service-account-credentials, and without it).
 */
export const CLUSTER_DELETERS: readonly string[] = [
  'system:serviceaccount:kube-system:namespace-controller',
  'system:serviceaccount:kube-system:generic-garbage-collector',
  'system:kube-controller-manager',
];

/** The exec webhook's exclusions as shipped in manifests/base/webhook.yaml (tests keep them equal). */
export const DEFAULT_UNGATED_NAMESPACES: readonly string[] = ['kube-system', 'kube-request-access'];

export const DEFAULT_CONFIG: Config = {
  alwaysAllowedGroups: [],
  alwaysAllowedUsers: [],
  usernamePrefix: '',
  maxValidForMs: 12 * 3_600_000,
  ungatedNamespaces: DEFAULT_UNGATED_NAMESPACES,
  selfUsernames: [],
};

export interface Context {
  now: Date;
  config: Config;
  /** Asked by the AccessRequest review only; passed here so that every wrapper of a concern forwards it. */
  validator: Validator;
}

/**
 * Side effects a decision asks for. Carried out only for an allowed, non-dry-run review; each one
 * can be given back (the shell does, when the audit that follows fails), so no review ends
 * "denied, but the approved request used up".
 */
export type Effect = {
  /**
   * `consume-request`: count one use of an AccessRequest (status.uses; status.usedAt with the last
   * one), with uid and resourceVersion preconditions, so that of any number of racing reviews
   * exactly as many win as uses are left. On a conflict the executor re-reads the request, checks
   * again (same uid, a use left, window open) and retries a bounded number of times.
   * `release-request`: give that one use back, on the resourceVersion the consume produced (on a
   * conflict: re-read, and take back only the one use it added).
   */
  type: 'consume-request' | 'release-request';
  namespace: string;
  name: string;
  uid: string;
  resourceVersion: string;
  /** The status as read with `resourceVersion` (carried over: a status PUT replaces all of it). */
  status?: AccessRequestStatus;
  /** The uses the request allows, narrowed by its approvals (default 1: a one-shot request). */
  maxUses?: number;
  /** A time-bound request's end (ISO 8601): a retried consume after it is refused. */
  expiresAt?: string;
};

/** Audit events, named and shaped as the seed's audit webhook protocol. */
export type AuditEvent =
  | {
      type: 'audit-exec';
      data: {
        request: AdmissionRequest;
        isAllowed: boolean;
        execOptions: PodExecOptions;
        isAdmin: boolean;
        /**
         * Not in the seed's protocol (receivers ignore unknown fields): the AccessPolicy whose
         * pre-approved command allowed this exec without a human grant.
         */
        policy?: string;
      };
    }
  | { type: 'audit-created'; data: { request: AdmissionRequest; accessRequest: AccessRequest } }
  | {
      type: 'audit-granted';
      data: { request: AdmissionRequest; accessRequest: AccessRequest; accessGrant: AccessGrant };
    }
  | {
      /**
       * A reviewed DELETE of an AccessRequest or AccessGrant (withdrawn, revoked, consumed, cleaned
       * up). Not part of the seed's webhook protocol: it goes to the audit log only.
       */
      type: 'audit-deleted';
      data: {
        request: AdmissionRequest;
        kind: 'AccessRequest' | 'AccessGrant';
        /** Absent when the deleted object is malformed (its raw form is in `request.oldObject`). */
        object?: AccessRequest | AccessGrant;
        role: DeleterRole;
      };
    }
  | {
      /**
       * A break-glass grant: when it is created (`phase: 'granted'`, next to its `audit-granted`)
       * and on every review it allows (`phase: 'used'`, next to the `audit-exec`). `policy` is the
       * AccessPolicy (namespace/name) whose rule it stands under. Not part of the seed's webhook
       * protocol (its receivers answer unknown types with an error): the audit log only; the
       * webhook sees the grant, `spec.breakGlass: true`, in `audit-granted`.
       */
      type: 'audit-break-glass';
      data: {
        request: AdmissionRequest;
        phase: 'granted' | 'used';
        accessRequest: AccessRequest;
        accessGrant: AccessGrant;
        policy: string;
      };
    }
  | {
      /** Another approver reviewed a break-glass grant after the fact (`accessGrant` is the review). Audit log only. */
      type: 'audit-reviewed';
      data: {
        request: AdmissionRequest;
        accessRequest: AccessRequest;
        accessGrant: AccessGrant;
        breakGlass: AccessGrant;
      };
    }
  | {
      /** A metadata-only UPDATE of an AccessRequest or AccessGrant (labels, annotations, finalizers). Audit log only. */
      type: 'audit-updated';
      data: { request: AdmissionRequest; kind: 'AccessRequest' | 'AccessGrant'; object: AccessRequest | AccessGrant };
    };

/** Why a deletion was allowed: who the deleter is to the object. */
export type DeleterRole = 'requester' | 'approver' | 'admin' | 'webhook' | 'cluster';

/** The event types of the seed's audit webhook protocol; others stay in the audit log. */
export const WEBHOOK_AUDIT_TYPES: ReadonlySet<AuditEvent['type']> = new Set([
  'audit-exec',
  'audit-created',
  'audit-granted',
]);

export type AuditType = AuditEvent['type'];

export interface Decision {
  allowed: boolean;
  /** HTTP-style status for the AdmissionResponse result: 200 allowed, 403 denied, 400 malformed, 500 failure. */
  code: number;
  /** Shown to the user by kubectl on a denial: says why and what to do next. */
  message: string;
  effects: Effect[];
  audit: AuditEvent[];
  warnings?: string[];
  /**
   * Put into the AdmissionResponse: the kube-apiserver writes them into its own audit event as
   * `<webhook name>/<key>`, linking the exec to the AccessRequest and grants that allowed it.
   * Keys are lowercase DNS labels without a slash.
   */
  auditAnnotations?: Record<string, string>;
}

/** An admission concern: pure, reads through `lookup`, time from `context.now`. */
export type Concern = (request: AdmissionRequest, lookup: Lookup, context: Context) => Promise<Decision>;

export function allow(
  message = '',
  extra: {
    effects?: Effect[];
    audit?: AuditEvent[];
    warnings?: string[];
    auditAnnotations?: Record<string, string>;
  } = {},
): Decision {
  return {
    allowed: true,
    code: 200,
    message,
    effects: extra.effects ?? [],
    audit: extra.audit ?? [],
    ...(extra.warnings ? { warnings: extra.warnings } : {}),
    ...(extra.auditAnnotations ? { auditAnnotations: extra.auditAnnotations } : {}),
  };
}

export function deny(message: string, code = 403, extra: { audit?: AuditEvent[] } = {}): Decision {
  return { allowed: false, code, message, effects: [], audit: extra.audit ?? [] };
}
