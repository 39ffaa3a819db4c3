// The Lookup of the webhook server (functions/types.ts): the informer caches (caches.ts) for
// requests, grants and policies, refusing while any is stale; bounded live calls for what a cache
// cannot answer (a request created a moment ago, a SubjectAccessReview, a pinned pod's uid).
import type { AccessRequest } from '../../functions/schemas.ts';
import type { Lookup } from '../../functions/types.ts';
import { isAllowedAnswer, subjectAccessReview, SUBJECT_ACCESS_REVIEWS_PATH } from '../authorization.ts';
import { objectsPath } from './rest.ts';
import { isNotFound } from '../errors.ts';
import type { NodeKubernetesClient } from './client.ts';
import { podUserKey, REQUESTS, type Caches } from './caches.ts';
import { freshRequest } from './fresh.ts';

/** Races `call` against a deadline of `timeoutMs`, rejecting with a message that names `what`. */
export type Bounded = <T>(what: string, call: Promise<T>) => Promise<T>;

export function boundedCalls(timeoutMs: number): Bounded {
  return <T>(what: string, call: Promise<T>): Promise<T> => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${what}: no answer from the API server within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    return Promise.race([call, deadline]).finally(() => clearTimeout(timer));
  };
}

export interface ClusterLookup {
  lookup: Lookup;
  /** One AccessRequest read from the API server (bounded), not the cache. */
  liveRequest(namespace: string, name: string): Promise<unknown>;
}

export function clusterLookup(client: NodeKubernetesClient, caches: Caches, bounded: Bounded): ClusterLookup {
  const liveRequest = (namespace: string, name: string) =>
    bounded(`reading AccessRequest ${namespace}/${name}`, client.get(objectsPath(REQUESTS, namespace, name)));
  const readRequest = freshRequest((namespace, name) => caches.requests.get(namespace, name), liveRequest);
  const lookup: Lookup = {
    async accessRequestsFor({ namespace, pod, usernames }) {
      caches.requireSynced();
      const found = new Set<AccessRequest>();
      for (const username of usernames)
        for (const request of caches.requests.byIndex('podUser', namespace, podUserKey(pod, username)))
          found.add(request);
      return [...found];
    },
    async accessRequest(namespace, name, expect) {
      caches.requireSynced();
      return readRequest(namespace, name, expect);
    },
    async isAuthorized(user, attributes) {
      const answer = await bounded(
        'SubjectAccessReview',
        client.post(SUBJECT_ACCESS_REVIEWS_PATH, subjectAccessReview(user, attributes)),
      );
      return isAllowedAnswer(answer);
    },
    async grantsFor(namespace, requestName) {
      caches.requireSynced();
      return caches.grants.byIndex('grantFor', namespace, requestName);
    },
    async policiesFor(namespace) {
      caches.requireSynced();
      return caches.policies.inNamespace(namespace);
    },
    // No pod cache: asked only for pinned requests, one live GET bounded like the other review-time calls.
    async podUID(namespace, name) {
      try {
        const pod = (await bounded(
          `reading pod ${namespace}/${name}`,
          client.get(`/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}`),
        )) as { metadata?: { uid?: string } } | undefined;
        return pod?.metadata?.uid || undefined;
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    },
  };

  return { lookup, liveRequest };
}
