// What the CLI needs from a cluster, as a narrow interface: the commands' logic takes a `Cluster`,
// the real one is built in kube.ts (the only module that loads @kubernetes/client-node), and unit
// tests pass object literals.
import type * as v from 'valibot';
import type { AccessGrant, AccessRequest } from '../../functions/schemas.ts';
import type { WorkloadKind } from './args.ts';

/** client-node deserialises timestamps into Dates; plain JSON has strings. */
export type Timestamp = string | Date;

/** What we send: metadata fields the apiserver fills in (uid, resourceVersion) may be left out. */
export type AccessRequestBody = v.InferInput<typeof AccessRequest>;
export type AccessGrantBody = v.InferInput<typeof AccessGrant>;

export interface LabelSelectorRequirement {
  key: string;
  operator: string;
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export interface PodLike {
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    annotations?: Record<string, string>;
    creationTimestamp?: Timestamp | null;
    deletionTimestamp?: Timestamp | null;
  };
  spec?: { containers?: { name: string }[]; nodeName?: string };
  status?: { phase?: string; conditions?: { type: string; status: string }[] };
}

export interface WorkloadLike {
  metadata?: { name?: string };
  spec?: { selector?: LabelSelector };
}

export interface UserIdentity {
  username: string;
  groups: string[];
}

export interface AccessCheck {
  verb: string;
  /** The API group; absent = the core group. */
  group?: string;
  resource: string;
  subresource?: string;
  namespace: string;
  name?: string;
}

export interface Cluster {
  /** The namespace from -n, else the context's, else "default". */
  readonly namespace: string;
  /** The API server URL, for messages. */
  readonly server: string;
  whoAmI(): Promise<UserIdentity>;
  readPod(namespace: string, name: string): Promise<PodLike>;
  readWorkload(kind: Exclude<WorkloadKind, 'pod'>, namespace: string, name: string): Promise<WorkloadLike>;
  listPods(namespace: string, labelSelector: string): Promise<PodLike[]>;
  createAccessRequest(namespace: string, body: AccessRequestBody): Promise<AccessRequest>;
  getAccessRequest(namespace: string, name: string): Promise<AccessRequest>;
  /** All namespaces when `namespace` is undefined; `labelSelector` as kubectl's -l. */
  listAccessRequests(namespace: string | undefined, labelSelector?: string): Promise<AccessRequest[]>;
  deleteAccessRequest(namespace: string, name: string, uid?: string): Promise<void>;
  /** All namespaces when `namespace` is undefined. */
  listAccessGrants(namespace: string | undefined): Promise<AccessGrant[]>;
  /**
   * The AccessPolicies in a namespace (all when undefined), as stored; [] where the CRD is not
   * installed or the user may not read them (the webhook decides either way; this is for display).
   */
  listAccessPolicies?(namespace: string | undefined): Promise<unknown[]>;
  createAccessGrant(namespace: string, body: AccessGrantBody): Promise<AccessGrant>;
  /** Revokes a decision: deletes the AccessGrant (with a uid precondition when given). */
  deleteAccessGrant(namespace: string, name: string, uid?: string): Promise<void>;
  /** SelfSubjectAccessReview. */
  canI(check: AccessCheck): Promise<boolean>;
}

/** How commands describe the cluster they want (kubectl's flags). */
export interface ConnectionOptions {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  /** Every API call fails after this long (--request-timeout; 0 = never). Default 30 s. */
  requestTimeoutMs?: number;
}

export function toDate(value: Timestamp | null | undefined): Date | undefined {
  if (!value) return undefined;
  const date = value instanceof Date ? value : new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}
