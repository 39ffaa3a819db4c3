// An in-memory store of parsed objects with secondary indexes, fed by informer events. Reviews
// read it synchronously: a lookup is a Map access, never a scan and never an API round trip.

export interface Keyed {
  metadata: { namespace?: string; name?: string; uid?: string };
}

export class IndexedStore<T extends Keyed, I extends string> {
  readonly #objects = new Map<string, T>();
  readonly #indexers: Record<I, (obj: T) => readonly string[]>;
  /** index → value → the key of the one object with that value, or a Set of keys (most values have one object: a grant's request). */
  readonly #indexes = new Map<I, Map<string, string | Set<string>>>();

  constructor(indexers: Record<I, (obj: T) => readonly string[]>) {
    this.#indexers = indexers;
    for (const name of Object.keys(indexers) as I[]) this.#indexes.set(name, new Map());
  }

  static key(namespace: string | undefined, name: string | undefined): string {
    return `${namespace ?? ''}/${name ?? ''}`;
  }

  get size(): number {
    return this.#objects.size;
  }

  upsert(obj: T): void {
    const key = IndexedStore.key(obj.metadata.namespace, obj.metadata.name);
    this.#unindex(key);
    this.#objects.set(key, obj);
    for (const [name, index] of this.#indexes) {
      for (const value of this.#indexers[name](obj)) {
        const keys = index.get(value);
        if (keys === undefined || keys === key) index.set(value, key);
        else if (typeof keys === 'string') index.set(value, new Set([keys, key]));
        else keys.add(key);
      }
    }
  }

  /** Removes the object; with `uid`, only if the stored one still has that uid. */
  remove(namespace: string | undefined, name: string | undefined, uid?: string): boolean {
    const key = IndexedStore.key(namespace, name);
    const found = this.#objects.get(key);
    if (!found || (uid && found.metadata.uid !== uid)) return false;
    this.#unindex(key);
    this.#objects.delete(key);
    return true;
  }

  get(namespace: string, name: string): T | undefined {
    return this.#objects.get(IndexedStore.key(namespace, name));
  }

  byIndex(index: I, value: string): T[] {
    const keys = this.#indexes.get(index)?.get(value);
    if (keys === undefined) return [];
    if (typeof keys === 'string') {
      const found = this.#objects.get(keys);
      return found ? [found] : [];
    }
    return [...keys].map((key) => this.#objects.get(key)!).filter(Boolean);
  }

  values(): T[] {
    return [...this.#objects.values()];
  }

  #unindex(key: string): void {
    const old = this.#objects.get(key);
    if (!old) return;
    for (const [name, index] of this.#indexes) {
      for (const value of this.#indexers[name](old)) {
        const keys = index.get(value);
        if (keys === key) index.delete(value);
        else if (typeof keys === 'object') {
          keys.delete(key);
          if (keys.size === 1) index.set(value, keys.values().next().value!);
          else if (keys.size === 0) index.delete(value);
        }
      }
    }
  }
}
