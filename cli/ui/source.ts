// What the page shows comes from a Source: the requests and grants the user can see, kept current
// by a watch (kube-source.ts), or set by hand in tests (memorySource). The page never polls.
import type { AccessGrant, AccessRequest } from '../../functions/schemas.ts';

export interface Snapshot {
  requests: readonly AccessRequest[];
  grants: readonly AccessGrant[];
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
  readonly #listeners = new Set<() => void>();

  constructor(
    readonly namespaces: readonly string[] | undefined = undefined,
    private readonly onClose: () => Promise<void> = async () => {},
  ) {}

  snapshot(): Snapshot {
    return { requests: [...this.#requests.values()], grants: [...this.#grants.values()] };
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

  #changed(): void {
    for (const listener of this.#listeners) listener();
  }

  close(): Promise<void> {
    this.#listeners.clear();
    return this.onClose();
  }
}
