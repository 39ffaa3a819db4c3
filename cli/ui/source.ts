// What the page shows comes from a Source: the requests and grants the user can see, kept current
// by a watch (kube-source.ts), or set by hand in tests (memorySource). The page never polls.
import { readPolicy, type LoadedPolicy } from '../../functions/policy.ts';
import type { AccessGrant, AccessRequest } from '../../functions/schemas.ts';

export interface Snapshot {
  requests: readonly AccessRequest[];
  grants: readonly AccessGrant[];
  /** The AccessPolicies of the namespaces in `policiesKnown`, as the webhook reads them. */
  policies: readonly LoadedPolicy[];
  /**
   * Where the user may read AccessPolicies: 'all', or the namespaces. Elsewhere the page shows no
   * policy details (it does not know how many approvals a request needs there).
   */
  policiesKnown: 'all' | readonly string[];
}

/** Whether the page knows the AccessPolicies of `namespace` (and so what its requests need). */
export function knowsPolicies(snapshot: Snapshot, namespace: string): boolean {
  return snapshot.policiesKnown === 'all' || snapshot.policiesKnown.includes(namespace);
}

export interface Source {
  snapshot(): Snapshot;
  /** Called after every change (debounced by the caller if it wants); returns an unsubscribe. */
  subscribe(listener: () => void): () => void;
  /** Which namespaces the watch covers: undefined = all of them. */
  readonly namespaces: readonly string[] | undefined;
  close(): Promise<void>;
}

const key = (o: { metadata: { namespace?: string; name?: string } }) => `${o.metadata.namespace ?? ''}/${o.metadata.name ?? ''}`;

/** A Source over two maps, with the methods a watch calls. */
export class StoreSource implements Source {
  readonly #requests = new Map<string, AccessRequest>();
  readonly #grants = new Map<string, AccessGrant>();
  readonly #policies = new Map<string, LoadedPolicy>();
  readonly #listeners = new Set<() => void>();

  constructor(
    readonly namespaces: readonly string[] | undefined = undefined,
    private readonly onClose: () => Promise<void> = async () => {},
    /** Where the policies are watched (see Snapshot); a memory source knows every namespace's. */
    readonly policiesKnown: 'all' | readonly string[] = 'all',
  ) {}

  snapshot(): Snapshot {
    return {
      requests: [...this.#requests.values()],
      grants: [...this.#grants.values()],
      policies: [...this.#policies.values()],
      policiesKnown: this.policiesKnown,
    };
  }

  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  putRequest(request: AccessRequest): void {
    this.#requests.set(key(request), request);
    this.#changed();
  }

  removeRequest(request: AccessRequest): void {
    this.#requests.delete(key(request));
    this.#changed();
  }

  putGrant(grant: AccessGrant): void {
    this.#grants.set(key(grant), grant);
    this.#changed();
  }

  removeGrant(grant: AccessGrant): void {
    this.#grants.delete(key(grant));
    this.#changed();
  }

  /** A policy as read from the cluster (malformed ones are kept: they stop grants, see policy.ts). */
  putPolicy(object: unknown): void {
    const policy = readPolicy(object);
    if (!policy) return;
    this.#policies.set(key(policy), policy);
    this.#changed();
  }

  removePolicy(object: { metadata: { namespace?: string; name?: string } }): void {
    this.#policies.delete(key(object));
    this.#changed();
  }

  #changed(): void {
    for (const listener of this.#listeners) listener();
  }

  close(): Promise<void> {
    this.#listeners.clear();
    return this.onClose();
  }
}
