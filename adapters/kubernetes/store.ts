// An in-memory store of parsed objects with secondary indexes, fed by informer events. Reviews
// read it synchronously: a lookup is a Map access, never a scan and never an API round trip.
//
// Shaped for memory (issue #16: 200,000 cached objects): objects are kept by namespace, then by
// name, so no "namespace/name" key string is made per object; an index maps a value, within the
// object's namespace, to the object itself (or a Set of them), not to a key. It also answers its
// reflectors' questions (`held`: which names, at which resourceVersion), so that they keep no
// second map of every name.

import type { Held } from './informer.ts';

export interface Keyed {
  metadata: { namespace?: string; name?: string; uid?: string; resourceVersion?: string };
}

/** What an index holds for one value: the one object with it (most values have one), or a Set of them. */
type Bucket<T> = T | Set<T>;

export class IndexedStore<T extends Keyed, I extends string> {
  /** namespace ('' for cluster-scoped) → name → object. */
  readonly #objects = new Map<string, Map<string, T>>();
  readonly #indexers: Record<I, (obj: T) => readonly string[]>;
  /** index → namespace → value → bucket. */
  readonly #indexes = new Map<I, Map<string, Map<string, Bucket<T>>>>();
  #size = 0;

  /** `indexers`: the values of an object for each index, within its namespace (byIndex asks per namespace). */
  constructor(indexers: Record<I, (obj: T) => readonly string[]>) {
    this.#indexers = indexers;
    for (const name of Object.keys(indexers) as I[]) this.#indexes.set(name, new Map());
  }

  get size(): number {
    return this.#size;
  }

  upsert(obj: T): void {
    const namespace = obj.metadata.namespace ?? '';
    const name = obj.metadata.name ?? '';
    let names = this.#objects.get(namespace);
    if (!names) this.#objects.set(namespace, (names = new Map()));
    const old = names.get(name);
    if (old) this.#unindex(namespace, old);
    else this.#size++;
    names.set(name, obj);
    for (const [index, byNamespace] of this.#indexes) {
      let values = byNamespace.get(namespace);
      if (!values) byNamespace.set(namespace, (values = new Map()));
      for (const value of this.#indexers[index](obj)) {
        const bucket = values.get(value);
        if (bucket === undefined || bucket === obj) values.set(value, obj);
        else if (bucket instanceof Set) bucket.add(obj);
        else values.set(value, new Set([bucket, obj]));
      }
    }
  }

  /** Removes the object; with `uid`, only if the stored one still has that uid. */
  remove(namespace: string | undefined, name: string | undefined, uid?: string): boolean {
    const names = this.#objects.get(namespace ?? '');
    const found = names?.get(name ?? '');
    if (!names || !found || (uid && found.metadata.uid !== uid)) return false;
    this.#unindex(namespace ?? '', found);
    names.delete(name ?? '');
    if (names.size === 0) this.#objects.delete(namespace ?? '');
    this.#size--;
    return true;
  }

  get(namespace: string, name: string): T | undefined {
    return this.#objects.get(namespace)?.get(name);
  }

  /**
   * What a reflector of `namespace` (undefined: of every namespace) gave this store and it holds:
   * the resourceVersion under a name ('' for an object without one), and every name.
   */
  held(namespace: string | undefined): Held {
    return {
      version: (ns, name) => {
        const found = this.#objects.get(ns)?.get(name);
        return found && (found.metadata.resourceVersion ?? '');
      },
      names: () => this.#names(namespace),
    };
  }

  *#names(namespace: string | undefined): Generator<readonly [string, string]> {
    for (const [ns, names] of this.#objects)
      if (namespace === undefined || ns === namespace) for (const name of names.keys()) yield [ns, name];
  }

  /** The objects of `namespace` with `value` for `index`. */
  byIndex(index: I, namespace: string, value: string): T[] {
    const bucket = this.#indexes.get(index)?.get(namespace)?.get(value);
    if (bucket === undefined) return [];
    return bucket instanceof Set ? [...bucket] : [bucket];
  }

  /** Every object of `namespace`. */
  inNamespace(namespace: string): T[] {
    const names = this.#objects.get(namespace);
    return names ? [...names.values()] : [];
  }

  values(): T[] {
    const all: T[] = [];
    for (const names of this.#objects.values()) for (const obj of names.values()) all.push(obj);
    return all;
  }

  #unindex(namespace: string, old: T): void {
    for (const [index, byNamespace] of this.#indexes) {
      const values = byNamespace.get(namespace);
      if (!values) continue;
      for (const value of this.#indexers[index](old)) {
        const bucket = values.get(value);
        if (bucket === old) values.delete(value);
        else if (bucket instanceof Set) {
          bucket.delete(old);
          if (bucket.size === 1) values.set(value, bucket.values().next().value!);
          else if (bucket.size === 0) values.delete(value);
        }
      }
      if (values.size === 0) byNamespace.delete(namespace);
    }
  }
}
