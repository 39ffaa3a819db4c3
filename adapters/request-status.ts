// The one write kube-request-access makes to an AccessRequest: its status subresource, counting
// one use (status.uses, and status.usedAt with the last use) and giving it back when the audit
// that follows fails. A PUT to /status changes the status alone (the apiserver keeps everything
// else), and carries the resourceVersion it was computed from: of several racing reviews, one
// write succeeds per version; the others re-read, check again and retry (adapters/kubernetes/apply.ts).
// Shared by the Node backend (node:https), the edge one (fetch) and the memory cluster. No Node imports.
import { usesOf } from '../functions/access.ts';
import { API_VERSION, type AccessRequestStatus } from '../functions/schemas.ts';
import type { Effect } from '../functions/types.ts';

/** The part of an AccessRequest a status write is computed from. */
export interface StatusBase {
  metadata: { uid: string; resourceVersion: string; deletionTimestamp?: string | null | undefined };
  status?: AccessRequestStatus | undefined;
}

/** What the effect itself says the request looked like when the decision read it. */
export function baseOf(effect: Effect): StatusBase {
  return {
    metadata: { uid: effect.uid, resourceVersion: effect.resourceVersion },
    ...(effect.status ? { status: effect.status } : {}),
  };
}

/**
 * The status body that carries out `effect` on `current` (as read), or why it cannot any more:
 * another object of that name, no use left, the window over (a consume); nothing to give back (a
 * release). The rest of the status (conditions written by others) is carried over unchanged.
 */
export function statusWrite(
  effect: Effect,
  current: StatusBase | undefined,
  now: Date,
): { body: ReturnType<typeof bodyFor> } | { refused: string } {
  if (!current || current.metadata.uid !== effect.uid) return { refused: 'it was deleted (or re-created) meanwhile' };
  const maxUses = effect.maxUses ?? 1;
  const uses = usesOf(current);
  const { usedAt: _usedAt, ...rest } = current.status ?? {};
  if (effect.type === 'consume-request') {
    if (current.metadata.deletionTimestamp) return { refused: 'it is being deleted' };
    if (uses >= maxUses)
      return { refused: maxUses === 1 ? 'it was used by another connection' : `all ${maxUses} uses are used` };
    if (effect.expiresAt && now.getTime() >= Date.parse(effect.expiresAt))
      return { refused: `its window ended at ${effect.expiresAt}` };
    const next = uses + 1;
    const status = { ...rest, uses: next, ...(next >= maxUses ? { usedAt: now.toISOString() } : {}) };
    return { body: bodyFor(effect, current.metadata.resourceVersion, status) };
  }
  if (uses < 1) return { refused: 'no use is counted to give back' };
  const next = uses - 1;
  // usedAt marks the last use: after giving one back, a use is left again (unless others took it).
  const status = { ...rest, uses: next, ...(next >= maxUses && _usedAt ? { usedAt: _usedAt } : {}) };
  return { body: bodyFor(effect, current.metadata.resourceVersion, status) };
}

function bodyFor(effect: Effect, resourceVersion: string, status: AccessRequestStatus) {
  return {
    apiVersion: API_VERSION,
    kind: 'AccessRequest',
    metadata: { name: effect.name, namespace: effect.namespace, uid: effect.uid, resourceVersion },
    status,
  };
}

export type StatusBody = ReturnType<typeof bodyFor>;

/** The effect that gives `effect` back, given the object its write produced; none for a release. */
export function inverseOf(effect: Effect, written: StatusBase | undefined): Effect | undefined {
  if (effect.type !== 'consume-request' || !written?.metadata.resourceVersion) return undefined;
  return {
    ...effect,
    type: 'release-request',
    resourceVersion: written.metadata.resourceVersion,
    ...(written.status ? { status: written.status } : {}),
  };
}
