// What the metrics report about the cluster's requests: how many wait for a decision, per
// namespace. Pure, over the same objects the reconciler and cleanup read.
import { evaluateGrant } from '../access.ts';
import type { LoadedPolicy } from '../policy.ts';
import type { AccessGrant, AccessRequest } from '../schemas.ts';

export function pendingByNamespace(input: {
  requests: readonly AccessRequest[];
  grants: readonly AccessGrant[];
  /** The AccessPolicies (a request with 1 of 2 approvals is still pending). */
  policies?: readonly LoadedPolicy[];
  now: Date;
  usernamePrefix: string;
}): Map<string, number> {
  const grantsByRequest = new Map<string, AccessGrant[]>();
  for (const grant of input.grants) {
    const key = `${grant.metadata.namespace}/${grant.spec.grantFor}`;
    grantsByRequest.set(key, [...(grantsByRequest.get(key) ?? []), grant]);
  }
  const pending = new Map<string, number>();
  for (const request of input.requests) {
    const { namespace = '', name = '' } = request.metadata;
    if (request.metadata.deletionTimestamp) continue;
    const state = evaluateGrant(
      request,
      grantsByRequest.get(`${namespace}/${name}`) ?? [],
      input.now,
      input.usernamePrefix,
      input.policies,
    );
    if (state.state === 'pending') pending.set(namespace, (pending.get(namespace) ?? 0) + 1);
  }
  return pending;
}
