// The seed's approach, for comparison: every review lists the namespace's AccessRequests (and
// AccessGrants) through the kube-apiserver and filters them, instead of reading an informer cache.
// Listed over a keep-alive HTTP/2 connection (as client-go would) and parsed with the same schemas
// as the informer path, so the difference is the lookup strategy and nothing else.
import * as v from 'valibot';
import { AccessGrant, AccessRequest } from '../functions/schemas.ts';
import type { Lookup } from '../functions/types.ts';
import { ApiClient, collectionPath, type ApiTarget } from './feed.ts';

async function list<T>(client: ApiClient, path: string, schema: v.GenericSchema<unknown, T>): Promise<T[]> {
  const answer = await client.request('GET', path);
  if (answer.status !== 200) throw new Error(`GET ${path} answered ${answer.status}: ${answer.body.slice(0, 200)}`);
  const items = (JSON.parse(answer.body) as { items?: unknown[] }).items ?? [];
  const out: T[] = [];
  for (const item of items) {
    const parsed = v.safeParse(schema, item);
    if (parsed.success) out.push(parsed.output);
  }
  return out;
}

export function listPerReviewLookup(target: ApiTarget): Lookup & { close(): void } {
  const client = new ApiClient(target, 2);
  return {
    async accessRequestsFor({ namespace, pod, usernames }) {
      const all = await list(client, collectionPath('accessrequests', namespace), AccessRequest);
      return all.filter((r) => r.spec.forObject.name === pod && usernames.includes(r.spec.userInfo.username));
    },
    async accessRequest(namespace, name) {
      const answer = await client.request(
        'GET',
        `${collectionPath('accessrequests', namespace)}/${encodeURIComponent(name)}`,
      );
      if (answer.status === 404) return undefined;
      if (answer.status !== 200) throw new Error(`GET AccessRequest ${namespace}/${name} answered ${answer.status}`);
      const parsed = v.safeParse(AccessRequest, JSON.parse(answer.body));
      return parsed.success ? parsed.output : undefined;
    },
    async grantsFor(namespace, requestName) {
      const all = await list(client, collectionPath('accessgrants', namespace), AccessGrant);
      return all.filter((g) => g.spec.grantFor === requestName);
    },
    // The seed had no policies: what is measured is the request and grant reads.
    policiesFor: async () => [],
    // The seed's approach has no approvers beyond RBAC: DELETE reviews are not what is measured.
    isAuthorized: async () => false,
    // The benchmark's requests are not pinned to a pod.
    podUID: async () => undefined,
    close: () => client.close(),
  };
}
