// An in-memory cluster: Lookup and EffectExecutor over a list of AccessRequests, AccessGrants and AccessPolicies.
// For tests, benchmarks and running the server without a cluster (`serve --objects FILE`).
import * as v from 'valibot';
import { readPolicy, type LoadedPolicy } from '../../functions/policy.ts';
import { AccessGrant, AccessRequest, type UserInfo } from '../../functions/schemas.ts';
import type { Effect, Lookup, ResourceAttributes } from '../../functions/types.ts';
import { EffectConflict, type EffectExecutor } from '../ports.ts';
import { inverseOf, statusBody } from '../request-status.ts';

export class MemoryCluster implements Lookup, EffectExecutor {
  private readonly requests = new Map<string, AccessRequest>();
  private readonly byPod = new Map<string, Set<string>>();
  private readonly grants = new Map<string, AccessGrant[]>();
  private readonly policies = new Map<string, LoadedPolicy>();
  private version = 1;

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
    } else {
      throw new Error(`MemoryCluster holds AccessRequests, AccessGrants and AccessPolicies, not ${String(kind)}`);
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

  /** Marks (or unmarks) a one-shot request used, with uid and resourceVersion preconditions, like the apiserver does. */
  async run(effect: Effect): Promise<Effect | undefined> {
    const key = `${effect.namespace}/${effect.name}`;
    const current = this.requests.get(key);
    if (
      !current ||
      current.metadata.uid !== effect.uid ||
      current.metadata.resourceVersion !== effect.resourceVersion
    ) {
      throw new EffectConflict(`AccessRequest ${key} was already used or changed`);
    }
    const body = statusBody(effect, this.clock());
    const next: AccessRequest = {
      ...current,
      metadata: { ...current.metadata, resourceVersion: String(this.version++) },
      status: body.status,
    };
    this.requests.set(key, next);
    return inverseOf(effect, next.metadata.resourceVersion);
  }
}
