// The one write kube-request-access makes to an AccessRequest: its status subresource, marking a
// one-shot request used (and unmarking it when the audit that follows fails). A PUT to /status
// changes the status alone (the apiserver keeps everything else), and carries the
// resourceVersion the decision read: of several racing reviews, exactly one mark succeeds.
// Shared by the Node backend (client-node) and the edge one (fetch). No Node imports.
import { API_VERSION } from '../functions/schemas.ts';
import type { Effect } from '../functions/types.ts';

export function statusBody(effect: Effect, now: Date) {
  return {
    apiVersion: API_VERSION,
    kind: 'AccessRequest',
    metadata: {
      name: effect.name,
      namespace: effect.namespace,
      uid: effect.uid,
      resourceVersion: effect.resourceVersion,
    },
    status: effect.type === 'consume-request' ? { usedAt: now.toISOString() } : {},
  };
}

/** The effect that gives `effect` back, given the resourceVersion it produced; none for a release. */
export function inverseOf(effect: Effect, resourceVersion: string | undefined): Effect | undefined {
  if (effect.type !== 'consume-request' || !resourceVersion) return undefined;
  return { ...effect, type: 'release-request', resourceVersion };
}
