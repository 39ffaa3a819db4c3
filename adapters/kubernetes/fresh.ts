// One AccessRequest for a review that must find it (the request a new grant names): from the
// cache, or, when the cache has none or another uid (the watch has not brought a request created a
// moment ago), from the API server once. A malformed object is no object.
import * as v from 'valibot';
import { AccessRequest } from '../../functions/schemas.ts';
import { isNotFound } from '../errors.ts';

export function freshRequest(
  cached: (namespace: string, name: string) => AccessRequest | undefined,
  live: (namespace: string, name: string) => Promise<unknown>,
): (namespace: string, name: string, expect?: { uid?: string }) => Promise<AccessRequest | undefined> {
  return async (namespace, name, expect) => {
    const hit = cached(namespace, name);
    if (hit && (!expect?.uid || hit.metadata.uid === expect.uid)) return hit;
    try {
      const parsed = v.safeParse(AccessRequest, await live(namespace, name));
      return parsed.success ? parsed.output : undefined;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  };
}
