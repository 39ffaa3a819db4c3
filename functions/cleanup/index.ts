// What is due for deletion at `now`: expired time-bound requests, one-shot (or never granted,
// or denied) requests older than `deleteAfterMs`, and grants whose request is gone. Pure: the
// Kubernetes adapter deletes what this returns (with uid preconditions) and audits each one.
import type { AccessGrant, AccessRequest } from '../schemas.ts';
import { evaluateGrant, grantBelongsTo } from '../access.ts';
import { breakGlassGrantsOf, needsReview } from '../breakglass.ts';
import type { LoadedPolicy } from '../policy.ts';

export type CleanupReason = 'expired' | 'unused' | 'used' | 'denied' | 'orphaned';

export type CleanupEvent =
  | {
      kind: 'AccessRequest';
      namespace: string;
      name: string;
      uid: string;
      reason: CleanupReason;
      message: string;
      object: AccessRequest;
    }
  | {
      kind: 'AccessGrant';
      namespace: string;
      name: string;
      uid: string;
      reason: CleanupReason;
      message: string;
      object: AccessGrant;
    };

export interface CleanupPlan {
  /** Requests first, then grants: deleting in this order never leaves a granted request without its grant visible. */
  deletions: CleanupEvent[];
  /** When the next object becomes due; undefined when none will without new objects. */
  nextDueAt?: Date;
}

export function dueForCleanup(input: {
  requests: readonly AccessRequest[];
  grants: readonly AccessGrant[];
  /** The AccessPolicies: a window starts at the last required approval, a pre-approved request is granted. */
  policies?: readonly LoadedPolicy[];
  now: Date;
  /** Unused one-shot, pending and denied requests are deleted this long after creation. */
  deleteAfterMs: number;
  /** A grant whose request is not (yet) seen is kept this long: informers of two kinds lag apart. */
  orphanGraceMs?: number;
  /**
   * History: used, expired and denied requests are kept this long after they ended (used, window
   * over, denied), so `kubectl request list --all` shows them with their state. Undefined: expired
   * requests go at once, used and denied ones `deleteAfterMs` after creation (as before).
   */
  retentionMs?: number;
  usernamePrefix?: string;
}): CleanupPlan {
  const { now, deleteAfterMs } = input;
  const orphanGraceMs = input.orphanGraceMs ?? 60_000;
  const prefix = input.usernamePrefix ?? '';
  const deletions: CleanupEvent[] = [];
  let nextDueAt: Date | undefined;
  const later = (at: Date) => {
    if (at > now && (!nextDueAt || at < nextDueAt)) nextDueAt = at;
  };

  const grantsByRequest = new Map<string, AccessGrant[]>();
  for (const grant of input.grants) {
    const key = `${grant.metadata.namespace}/${grant.spec.grantFor}`;
    grantsByRequest.set(key, [...(grantsByRequest.get(key) ?? []), grant]);
  }

  const remaining = new Map<string, AccessRequest>();
  for (const request of input.requests) {
    const { namespace = '', name = '', uid = '' } = request.metadata;
    const key = `${namespace}/${name}`;
    const verdict = evaluateGrant(request, grantsByRequest.get(key) ?? [], now, prefix, input.policies);
    const created = timestamp(request.metadata.creationTimestamp);
    const staleAt = created === undefined ? undefined : new Date(created + deleteAfterMs);
    const base = { kind: 'AccessRequest' as const, namespace, name, uid, object: request };
    // A break-glass request nobody reviewed yet is kept as long as a used one, even when its
    // window ended earlier: `kubectl request list --needs-review` reads it (the audit log has it anyway).
    const unreviewed = needsReview(request, grantsByRequest.get(key) ?? [], prefix);
    if (verdict.state === 'expired' && unreviewed && staleAt && staleAt > now) {
      later(staleAt);
      remaining.set(key, request);
      continue;
    }
    const ended = input.retentionMs === undefined ? undefined : endOf(verdict);
    if (ended) {
      const dueAt = new Date(ended.at.getTime() + input.retentionMs!);
      if (dueAt > now) {
        later(dueAt);
        remaining.set(key, request);
        continue;
      }
      const reason: CleanupReason = verdict.state as 'expired' | 'used' | 'denied';
      const kept = `kept ${Math.round(input.retentionMs! / 1000)}s (--retention)`;
      deletions.push({ ...base, reason, message: `${ended.what} at ${ended.at.toISOString()}, ${kept}` });
      continue;
    }
    if (verdict.state === 'expired') {
      const at = verdict.expiresAt ? ` at ${verdict.expiresAt.toISOString()}` : '';
      const glass = unreviewed ? ' (a break-glass request never reviewed, kept as long as a used one)' : '';
      deletions.push({
        ...base,
        reason: 'expired',
        message: `access window of ${request.spec.validFor} ended${at}${glass}`,
      });
      continue;
    }
    if (verdict.state === 'granted' && verdict.expiresAt) {
      later(verdict.expiresAt);
      remaining.set(key, request);
      continue;
    }
    if (staleAt && staleAt <= now) {
      const reason: CleanupReason =
        verdict.state === 'denied' ? 'denied' : verdict.state === 'used' ? 'used' : 'unused';
      const what =
        verdict.state === 'denied'
          ? 'denied'
          : verdict.state === 'used'
            ? `used at ${verdict.usedAt.toISOString()}, kept`
            : verdict.state === 'granted'
              ? 'granted but unused'
              : verdict.state === 'invalid'
                ? `invalid (${verdict.reason})`
                : 'never granted';
      const glass = unreviewed ? ' (a break-glass request never reviewed)' : '';
      deletions.push({
        ...base,
        reason,
        message: `${what}${glass} for longer than ${Math.round(deleteAfterMs / 1000)}s`,
      });
      continue;
    }
    if (staleAt) later(staleAt);
    remaining.set(key, request);
  }

  for (const grant of input.grants) {
    const { namespace = '', name = '', uid = '' } = grant.metadata;
    const request = remaining.get(`${namespace}/${grant.spec.grantFor}`);
    const base = { kind: 'AccessGrant' as const, namespace, name, uid, object: grant };
    // A break-glass grant stays with its request even when the policies no longer allow it: it is the record.
    if (request && (grantBelongsTo(grant, request, prefix) || breakGlassGrantsOf(request, [grant], prefix).length))
      continue;
    const deletedNow = deletions.some(
      (d) => d.kind === 'AccessRequest' && d.namespace === namespace && d.name === grant.spec.grantFor,
    );
    if (deletedNow) {
      deletions.push({
        ...base,
        reason: 'orphaned',
        message: `its AccessRequest ${grant.spec.grantFor} is being deleted`,
      });
      continue;
    }
    const created = timestamp(grant.metadata.creationTimestamp);
    const orphanAt = new Date((created ?? now.getTime()) + orphanGraceMs);
    if (orphanAt <= now) {
      const message = request
        ? `it does not belong to the current AccessRequest ${grant.spec.grantFor} (re-created, or a self-grant)`
        : `AccessRequest ${grant.spec.grantFor} no longer exists`;
      deletions.push({ ...base, reason: 'orphaned', message });
    } else {
      later(orphanAt);
    }
  }
  return nextDueAt ? { deletions, nextDueAt } : { deletions };
}

/** When a request ended: used, its window over, or denied; undefined while it can still be used. */
function endOf(verdict: ReturnType<typeof evaluateGrant>): { at: Date; what: string } | undefined {
  if (verdict.state === 'used') return { at: verdict.usedAt, what: 'used' };
  if (verdict.state === 'expired') return { at: verdict.expiresAt, what: 'access window ended' };
  if (verdict.state === 'denied') {
    const at = timestamp(verdict.grant.metadata.creationTimestamp);
    return at === undefined ? undefined : { at: new Date(at), what: 'denied' };
  }
  return undefined;
}

function timestamp(text: string | null | undefined): number | undefined {
  if (!text) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}
