// An IndexedStore that tells what each change did (what it held before, what it holds after), so a
// loop can work on what changed rather than on everything: the status writer (status-schedule.ts).
// Every write goes through upsert and remove: the informers', and the server's own
// (a consumed use, a written status, a cleanup deletion).
import type { LoadedPolicy } from '../../functions/policy.ts';
import type { AccessGrant, AccessRequest } from '../../functions/schemas.ts';
import { IndexedStore, type Keyed } from './store.ts';

/** One change a cache applied: `before` what it held, `after` what it holds now (undefined: removed). */
export type CacheChange =
  | { kind: 'AccessRequest'; before: AccessRequest | undefined; after: AccessRequest | undefined }
  | { kind: 'AccessGrant'; before: AccessGrant | undefined; after: AccessGrant | undefined }
  | { kind: 'AccessPolicy'; before: LoadedPolicy | undefined; after: LoadedPolicy | undefined };

export type StoreObserver<T> = (before: T | undefined, after: T | undefined) => void;

export class ObservedStore<T extends Keyed, I extends string> extends IndexedStore<T, I> {
  readonly #observe: StoreObserver<T>;

  constructor(indexers: Record<I, (obj: T) => readonly string[]>, observe: StoreObserver<T>) {
    super(indexers);
    this.#observe = observe;
  }

  override upsert(obj: T): void {
    const before = this.get(obj.metadata.namespace ?? '', obj.metadata.name ?? '');
    super.upsert(obj);
    this.#observe(before, obj);
  }

  override remove(namespace: string | undefined, name: string | undefined, uid?: string): boolean {
    const before = this.get(namespace ?? '', name ?? '');
    const removed = super.remove(namespace, name, uid);
    if (removed) this.#observe(before, undefined);
    return removed;
  }
}
