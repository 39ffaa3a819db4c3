// Valibot schemas for everything that crosses the webhook boundary. Kubernetes objects pass
// through unchanged (looseObject): we validate what we read and keep the rest for audit.
import * as v from 'valibot';

/**
 * A JSON object whose unknown fields pass through (Kubernetes objects are read, never narrowed),
 * and never an array: valibot's object schemas take an array for an object with every field at
 * its default, which would read `"object": [...]` as an empty PodExecOptions.
 */
function object<const E extends v.ObjectEntries>(entries: E) {
  return v.pipe(
    v.unknown(),
    v.check((input) => !Array.isArray(input), 'expected an object, got an array'),
    v.looseObject(entries),
  );
}

export const GROUP = 'kube-request-access.io';
export const VERSION = 'v1';
export const API_VERSION = `${GROUP}/${VERSION}`;
/** On an AccessRequest made on behalf of someone (by an admin): who created it. Checked on CREATE. */
export const CREATED_BY_ANNOTATION = `${GROUP}/created-by`;

const NonEmpty = v.pipe(v.string(), v.minLength(1));

export const GroupVersionResource = object({
  group: v.optional(v.string(), ''),
  version: v.optional(v.string(), ''),
  resource: v.optional(v.string(), ''),
});
export type GroupVersionResource = v.InferOutput<typeof GroupVersionResource>;

export const GroupVersionKind = object({
  group: v.optional(v.string(), ''),
  version: v.optional(v.string(), ''),
  kind: v.optional(v.string(), ''),
});
export type GroupVersionKind = v.InferOutput<typeof GroupVersionKind>;

/** authentication.k8s.io/v1 UserInfo as the apiserver sends it. */
export const UserInfo = object({
  username: NonEmpty,
  uid: v.optional(v.string()),
  groups: v.optional(v.array(v.string()), []),
  extra: v.optional(v.record(v.string(), v.array(v.string()))),
});
export type UserInfo = v.InferOutput<typeof UserInfo>;

export const Operation = v.picklist(['CREATE', 'UPDATE', 'DELETE', 'CONNECT']);
export type Operation = v.InferOutput<typeof Operation>;

/** admission.k8s.io/v1 AdmissionRequest. `object` stays unknown: each concern parses its own kind. */
export const AdmissionRequest = object({
  uid: NonEmpty,
  kind: GroupVersionKind,
  resource: GroupVersionResource,
  subResource: v.optional(v.string(), ''),
  requestKind: v.optional(GroupVersionKind),
  requestResource: v.optional(GroupVersionResource),
  requestSubResource: v.optional(v.string()),
  name: v.optional(v.string(), ''),
  namespace: v.optional(v.string(), ''),
  operation: Operation,
  userInfo: UserInfo,
  object: v.optional(v.nullable(v.unknown())),
  oldObject: v.optional(v.nullable(v.unknown())),
  dryRun: v.optional(v.boolean(), false),
  options: v.optional(v.nullable(v.unknown())),
});
export type AdmissionRequest = v.InferOutput<typeof AdmissionRequest>;

export const AdmissionReview = object({
  apiVersion: v.literal('admission.k8s.io/v1'),
  kind: v.literal('AdmissionReview'),
  request: AdmissionRequest,
});
export type AdmissionReview = v.InferOutput<typeof AdmissionReview>;

/** core/v1 PodExecOptions. kubectl omits false booleans. */
const podAttachEntries = {
  kind: v.optional(v.string()),
  apiVersion: v.optional(v.string()),
  stdin: v.optional(v.boolean(), false),
  stdout: v.optional(v.boolean(), false),
  stderr: v.optional(v.boolean(), false),
  tty: v.optional(v.boolean(), false),
  container: v.optional(v.string(), ''),
};
// `command` is not omitempty in Go's PodExecOptions: the seed's payloads carry `"command": null` for none.
export const PodExecOptions = object({ ...podAttachEntries, command: v.nullish(v.array(v.string()), []) });
export type PodExecOptions = v.InferOutput<typeof PodExecOptions>;

export const ObjectMeta = object({
  name: v.optional(v.string(), ''),
  generateName: v.optional(v.string()),
  namespace: v.optional(v.string(), ''),
  uid: v.optional(v.string(), ''),
  resourceVersion: v.optional(v.string(), ''),
  creationTimestamp: v.optional(v.nullable(v.string())),
  deletionTimestamp: v.optional(v.nullable(v.string())),
  labels: v.optional(v.record(v.string(), v.string())),
  annotations: v.optional(v.record(v.string(), v.string())),
});
export type ObjectMeta = v.InferOutput<typeof ObjectMeta>;

export const ForObject = object({
  resource: GroupVersionResource,
  subResource: v.string(),
  name: NonEmpty,
  namespace: NonEmpty,
  /** Pins the request to one pod object: a pod re-created under the same name is not covered. */
  uid: v.optional(v.string()),
});
export type ForObject = v.InferOutput<typeof ForObject>;

/** core/v1 PodAttachOptions (what `kubectl attach` sends, and what a request for attach names): exec's options without a command. */
export const PodAttachOptions = object(podAttachEntries);
export type PodAttachOptions = v.InferOutput<typeof PodAttachOptions>;

/**
 * core/v1 PodPortForwardOptions. `ports` is there only when the client put `?ports=` in the URL;
 * kubectl (SPDY, and SPDY tunnelled over WebSocket) names its ports per stream, never here.
 */
export const PodPortForwardOptions = object({
  kind: v.optional(v.string()),
  apiVersion: v.optional(v.string()),
  ports: v.optional(v.array(v.number()), []),
});
export type PodPortForwardOptions = v.InferOutput<typeof PodPortForwardOptions>;

/** The ephemeral container a request for `ephemeralcontainers` (kubectl debug) asks for. */
export const DebugOptions = object({
  image: v.optional(v.string(), ''),
  /** targetContainerName (kubectl debug --target); empty = no target. */
  target: v.optional(v.string(), ''),
  /** The ephemeral container's name (kubectl debug -c); empty = any name. */
  container: v.optional(v.string(), ''),
  /** Exact command (kubectl debug -- CMD...); empty = the image's entrypoint with no command. */
  command: v.optional(v.array(v.string()), []),
  /** Exact args (kubectl debug --arguments-only -- ARGS...). */
  args: v.optional(v.array(v.string()), []),
  /** kubectl debug --profile; decides which securityContext the container may have. */
  profile: v.optional(v.string(), ''),
});
export type DebugOptions = v.InferOutput<typeof DebugOptions>;

/** kubectl cp into a pod: an exec of `tar -xmf - -C <path>` with stdin. Only direction `in`. */
export const CopyOptions = object({
  direction: v.optional(v.string(), ''),
  /** The directory written into (absolute, clean). */
  path: v.optional(v.string(), ''),
});
export type CopyOptions = v.InferOutput<typeof CopyOptions>;

/** A number of uses: an integer of at least 1. */
const Uses = v.pipe(v.number(), v.integer(), v.minValue(1));

export const AccessRequestSpec = object({
  userInfo: object({ username: NonEmpty }),
  forObject: ForObject,
  /** Go duration ("30m", "1h"); empty or absent = one exec, consumed on use. */
  validFor: v.optional(v.string(), ''),
  /** The seed (Go, a pointer without omitempty) writes `null` for none: read as absent. */
  execOptions: v.pipe(
    v.nullish(PodExecOptions),
    v.transform((options) => options ?? undefined),
  ),
  attachOptions: v.optional(PodAttachOptions),
  portForwardOptions: v.optional(PodPortForwardOptions),
  debugOptions: v.optional(DebugOptions),
  copyOptions: v.optional(CopyOptions),
  /** The seed (a Go map without omitempty) writes `null` for no keys: read as absent. */
  customKeys: v.pipe(
    v.nullish(v.record(v.string(), v.string())),
    v.transform((keys) => keys ?? undefined),
  ),
  /** Optional: why the requester needs the access (kubectl request … --reason), shown to approvers. */
  reason: v.optional(v.string()),
  /** How many uses the request allows (within validFor when set). Absent: one without validFor, any within it. */
  maxUses: v.optional(Uses),
});
export type AccessRequestSpec = v.InferOutput<typeof AccessRequestSpec>;

/** One condition of an AccessRequest's status (metav1.Condition's fields, written by functions/status). */
export const RequestCondition = object({
  type: v.string(),
  status: v.string(),
  reason: v.optional(v.string()),
  message: v.optional(v.string()),
  lastTransitionTime: v.optional(v.string()),
});
export type RequestCondition = v.InferOutput<typeof RequestCondition>;

/**
 * Written by kube-request-access alone (the status subresource): `usedAt` (when the last use a
 * request allows went through; a one-shot request: its use) and `uses` (the uses consumed so far)
 * by the exec review's consume; the rest by the status writer (functions/status), a merge patch
 * that never touches `usedAt` or `uses`.
 */
export const AccessRequestStatus = object({
  usedAt: v.optional(v.string()),
  uses: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
  state: v.optional(v.string()),
  conditions: v.optional(v.array(RequestCondition)),
  expiresAt: v.optional(v.string()),
  approvals: v.optional(v.string()),
  /** The request's COMMAND as text (functions/kinds.ts `brief`), for `kubectl get acr`. */
  command: v.optional(v.string()),
});
export type AccessRequestStatus = v.InferOutput<typeof AccessRequestStatus>;

export const AccessRequest = object({
  apiVersion: v.optional(v.string()),
  kind: v.optional(v.string()),
  metadata: ObjectMeta,
  spec: AccessRequestSpec,
  status: v.optional(AccessRequestStatus),
});
export type AccessRequest = v.InferOutput<typeof AccessRequest>;

/** core/v1 EphemeralContainer, the fields the debug concern reads; the rest passes through. */
export const EphemeralContainer = object({
  name: v.string(),
  image: v.optional(v.string(), ''),
  targetContainerName: v.optional(v.string(), ''),
  command: v.optional(v.array(v.string()), []),
  args: v.optional(v.array(v.string()), []),
  stdin: v.optional(v.boolean(), false),
  tty: v.optional(v.boolean(), false),
});
export type EphemeralContainer = v.InferOutput<typeof EphemeralContainer>;

/** core/v1 Pod as an ephemeralcontainers review carries it (object and oldObject). */
export const Pod = object({
  apiVersion: v.optional(v.string()),
  kind: v.optional(v.string()),
  metadata: ObjectMeta,
  spec: object({
    ephemeralContainers: v.optional(v.array(EphemeralContainer), []),
  }),
});
export type Pod = v.InferOutput<typeof Pod>;

/**
 * `granted` and `denied` decide; `reviewed` is an after-the-fact review of a break-glass grant by
 * another approver (functions/grant/review.ts): it never counts as an approval.
 */
export const GrantStatus = v.picklist(['granted', 'denied', 'reviewed']);
export type GrantStatus = v.InferOutput<typeof GrantStatus>;

export const AccessGrant = object({
  apiVersion: v.optional(v.string()),
  kind: v.optional(v.string()),
  metadata: ObjectMeta,
  spec: object({
    grantFor: NonEmpty,
    grantedBy: object({ username: NonEmpty }),
    /**
     * The uid of the AccessRequest granted: the grant binds to that one object, never to the name.
     * Required on new grants (functions/grant); a grant without it covers nothing.
     */
    grantForUID: v.optional(v.string()),
    /** Optional: why a request was denied (or any note from the approver). */
    reason: v.optional(v.string()),
    /**
     * A self-grant under an AccessPolicy's break-glass rule (functions/breakglass.ts): the
     * requester grants their own request, with a reason, and another approver reviews it later.
     */
    breakGlass: v.optional(v.boolean()),
    /** Narrows a time-bound request's window (a Go duration, shorter than its validFor). */
    validFor: v.optional(v.string()),
    /** Narrows the request's uses (fewer than its maxUses). */
    maxUses: v.optional(Uses),
  }),
  status: GrantStatus,
});
export type AccessGrant = v.InferOutput<typeof AccessGrant>;

/** An exact command that an AccessPolicy lets through without a human grant (exec only). */
export const PreApprovedCommand = object({
  /** The exact argv, compared element by element; never empty (that would be any command). */
  command: v.pipe(v.array(v.string()), v.minLength(1, 'a pre-approved command needs at least one argument')),
  /** Only in this container; absent = any container of the pod. */
  container: v.optional(v.string()),
});
export type PreApprovedCommand = v.InferOutput<typeof PreApprovedCommand>;

/** A custom key every request must carry, its value matching `pattern` (a JavaScript regular expression). */
export const RequiredCustomKey = object({
  key: NonEmpty,
  pattern: v.optional(v.string()),
  /** Shown in the refusal: what the value is (`the incident ticket, OPS-<number>`). */
  description: v.optional(v.string()),
});
export type RequiredCustomKey = v.InferOutput<typeof RequiredCustomKey>;

/**
 * AccessPolicy (namespaced): how requests in its own namespace are approved and what they may ask
 * for. Every policy of a namespace applies; the strictest wins (functions/policy.ts).
 */
export const AccessPolicySpec = object({
  /** Who may grant or deny, on top of RBAC's `create accessgrants`; absent or empty = whoever RBAC allows. */
  approvers: v.optional(
    object({
      users: v.optional(v.array(v.string()), []),
      groups: v.optional(v.array(v.string()), []),
    }),
  ),
  /** Distinct approvers who must grant before a request is granted (default 1). */
  requiredApprovals: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(10)), 1),
  /** The longest spec.validFor a request may ask for (a Go duration). */
  maxValidFor: v.optional(v.string()),
  /** The kinds of access that may be requested (exec, cp, attach, port-forward, debug); absent = all. */
  allowedKinds: v.optional(v.array(v.string())),
  /** Whether spec.reason must be given. */
  requireReason: v.optional(v.boolean(), false),
  requiredCustomKeys: v.optional(v.array(RequiredCustomKey), []),
  /** Exact exec commands granted without a human (the request is still created and audited). */
  preApproved: v.optional(v.array(PreApprovedCommand), []),
  /**
   * Members of these groups may grant their own request, with a reason, for at most `maxValidFor`
   * (a Go duration, default 1h; a one-shot request always fits). Reviewed after the fact.
   */
  breakGlass: v.optional(
    object({
      groups: v.pipe(v.array(NonEmpty), v.minLength(1, 'breakGlass.groups needs at least one group')),
      maxValidFor: v.optional(v.string()),
    }),
  ),
});
export type AccessPolicySpec = v.InferOutput<typeof AccessPolicySpec>;

export const AccessPolicy = object({
  apiVersion: v.optional(v.string()),
  kind: v.optional(v.string()),
  metadata: ObjectMeta,
  spec: AccessPolicySpec,
});
export type AccessPolicy = v.InferOutput<typeof AccessPolicy>;

/** Formats valibot issues as `path: message` lines, as cert-manager style validators do. */
export function describeIssues(issues: readonly v.BaseIssue<unknown>[]): string {
  return issues
    .map((issue) => {
      const path = v.getDotPath(issue);
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join('; ');
}
