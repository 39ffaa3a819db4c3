// An in-memory cluster: Lookup and EffectExecutor over a list of AccessRequests, AccessGrants,
// AccessPolicies and Pods. For tests, benchmarks and running the server without a cluster
// (`serve --objects FILE`). Status writes go through the same executor as the cluster backends
// (adapters/kubernetes/apply.ts), against a store with the apiserver's preconditions.
import * as v from 'valibot';
import { readPolicy, type LoadedPolicy } from '../../functions/policy.ts';
import { AccessGrant, AccessRequest, type UserInfo } from '../../functions/schemas.ts';
import type { Effect, Lookup, ResourceAttributes } from '../../functions/types.ts';
import { KubernetesApiError } from '../errors.ts';
import { statusEffects } from '../kubernetes/apply.ts';
import type { EffectExecutor } from '../ports.ts';
import type { StatusBody } from '../request-status.ts';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

export class MemoryCluster implements Lookup, EffectExecutor {
  private readonly requests = new Map<string, AccessRequest>();
  private readonly byPod = new Map<string, Set<string>>();
  private readonly grants = new Map<string, AccessGrant[]>();
  private readonly policies = new Map<string, LoadedPolicy>();
  private readonly pods = new Map<string, string>();
  private version = 1;
  private readonly executor: EffectExecutor;

  /**
   * `authorize` stands in for the cluster's authorizer (SubjectAccessReviews); without one nobody
   * is authorized beyond what the policy itself allows (requesters withdraw their own requests).
   */
  constructor(
    objects: Iterable<unknown> = [],
    private readonly authorize: (user: UserInfo, attributes: ResourceAttributes) => boolean = () => false,
    /** When a one-shot request is marked used (status.usedAt). */
    private readonly clock: () => Date = () => new Date(),
  ) {
    for (const object of objects) this.add(object);
    this.executor = statusEffects({ writer: this, logger: quiet, clock: this.clock });
  }

  async isAuthorized(user: UserInfo, attributes: ResourceAttributes): Promise<boolean> {
    return this.authorize(user, attributes);
  }

  /** Adds an AccessRequest, AccessGrant or AccessPolicy (by `kind`), filling uid and resourceVersion of requests when absent. */
  add(object: unknown): void {
    const kind = (object as { kind?: unknown } | null)?.kind;
    if (kind === 'AccessRequest') {
      const request = v.parse(AccessRequest, object);
      const { namespace, name } = request.metadata;
      request.metadata.uid ||= `uid-${namespace}-${name}-${this.version}`;
      request.metadata.resourceVersion ||= String(this.version++);
      this.requests.set(`${namespace}/${name}`, request);
      const podKey = `${namespace}/${request.spec.forObject.name}/${request.spec.userInfo.username}`;
      if (!this.byPod.has(podKey)) this.byPod.set(podKey, new Set());
      this.byPod.get(podKey)!.add(`${namespace}/${name}`);
    } else if (kind === 'AccessGrant') {
      const grant = v.parse(AccessGrant, object);
      const key = `${grant.metadata.namespace}/${grant.spec.grantFor}`;
      this.grants.set(key, [...(this.grants.get(key) ?? []), grant]);
    } else if (kind === 'AccessPolicy') {
      // A malformed policy is kept, marked: it fails its namespace closed, as in the cluster backends.
      const policy = readPolicy(object);
      if (!policy) throw new Error('an AccessPolicy needs metadata.name and metadata.namespace');
      this.policies.set(`${policy.metadata.namespace}/${policy.metadata.name}`, policy);
    } else if (kind === 'Pod') {
      // Only what a pinned request is checked against: the pod's uid.
      const { namespace, name, uid } =
        (object as { metadata?: { namespace?: string; name?: string; uid?: string } }).metadata ?? {};
      if (!namespace || !name || !uid) throw new Error('a Pod needs metadata.namespace, name and uid');
      this.pods.set(`${namespace}/${name}`, uid);
    } else {
      throw new Error(`MemoryCluster holds AccessRequests, AccessGrants, AccessPolicies and Pods, not ${String(kind)}`);
    }
  }

  async accessRequestsFor(query: { namespace: string; pod: string; usernames: readonly string[] }) {
    const found: AccessRequest[] = [];
    for (const username of query.usernames) {
      for (const key of this.byPod.get(`${query.namespace}/${query.pod}/${username}`) ?? []) {
        const request = this.requests.get(key);
        if (request) found.push(request);
      }
    }
    return found;
  }

  async accessRequest(namespace: string, name: string) {
    return this.requests.get(`${namespace}/${name}`);
  }

  async grantsFor(namespace: string, requestName: string) {
    return this.grants.get(`${namespace}/${requestName}`) ?? [];
  }

  async policiesFor(namespace: string) {
    return [...this.policies.values()].filter((policy) => policy.metadata.namespace === namespace);
  }

  /** Removes an AccessPolicy (tests: a policy deleted takes effect on the next review). */
  removePolicy(namespace: string, name: string): void {
    this.policies.delete(`${namespace}/${name}`);
  }

  async podUID(namespace: string, name: string): Promise<string | undefined> {
    return this.pods.get(`${namespace}/${name}`);
  }

  /** Removes a Pod (tests: a pod deleted, or re-created by adding it again with another uid). */
  removePod(namespace: string, name: string): void {
    this.pods.delete(`${namespace}/${name}`);
  }

  /** Counts (or gives back) a use, through the cluster backends' executor. */
  run(effect: Effect): Promise<Effect | undefined> {
    return this.executor.run(effect);
  }

  /** A status PUT with the apiserver's uid and resourceVersion preconditions (409 on a mismatch, 404 when gone). */
  async replaceRequestStatus(namespace: string, name: string, body: StatusBody): Promise<unknown> {
    const key = `${namespace}/${name}`;
    const current = this.requests.get(key);
    if (!current) throw new KubernetesApiError(404, 'NotFound', `AccessRequest ${key} not found`);
    if (
      current.metadata.uid !== body.metadata.uid ||
      current.metadata.resourceVersion !== body.metadata.resourceVersion
    )
      throw new KubernetesApiError(409, 'Conflict', `AccessRequest ${key} was changed`);
    const next: AccessRequest = {
      ...current,
      metadata: { ...current.metadata, resourceVersion: String(this.version++) },
      status: body.status,
    };
    this.requests.set(key, next);
    return next;
  }

  async readRequest(namespace: string, name: string): Promise<unknown> {
    return this.requests.get(`${namespace}/${name}`);
  }

  /** Writes status (tests: another writer, e.g. conditions, bumping the resourceVersion). */
  setStatus(namespace: string, name: string, status: AccessRequest['status']): void {
    const key = `${namespace}/${name}`;
    const current = this.requests.get(key);
    if (!current) throw new Error(`no AccessRequest ${key}`);
    this.requests.set(key, {
      ...current,
      metadata: { ...current.metadata, resourceVersion: String(this.version++) },
      ...(status ? { status } : {}),
    });
  }
}
