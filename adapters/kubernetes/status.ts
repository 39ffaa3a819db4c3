// The status writer: carries out functions/status's plan, one JSON merge patch of the status
// subresource per request whose state changed. The patch names only the fields the writer owns
// (state, conditions, command, expiresAt, approvals) and never `usedAt`/`uses`, which the exec
// review's consume writes with a resourceVersion precondition: the two never undo each other, and
// the consume retries when a status patch moved the resourceVersion under it.
// Several replicas may write the same status: the patch is idempotent (same state, same text, and
// lastTransitionTime kept from the object), so the second write changes nothing that matters.
// No Node imports beyond the types: the edge could carry out the same plan over fetch.
import type { StatusPatch, StatusWrite } from '../../functions/status/index.ts';
import { isConflict, isNotFound } from '../errors.ts';
import type { Logger } from '../ports.ts';

/** The body of a merge patch of an AccessRequest's status: `metadata.uid` is a precondition. */
export interface StatusPatchBody {
  metadata: { uid: string };
  status: StatusPatch;
}

/** Merge-patches an AccessRequest's status subresource (application/merge-patch+json). */
export interface RequestStatusPatcher {
  patchRequestStatus(namespace: string, name: string, body: StatusPatchBody): Promise<unknown>;
}

export function statusPatchBody(write: StatusWrite): StatusPatchBody {
  return { metadata: { uid: write.uid }, status: write.patch };
}

/**
 * Writes each status of the plan. Gone (404) or re-created under the name (409, the uid
 * precondition) is not a failure: the watch brings the new object and the next pass its status.
 * `onWritten` gets what the API server answered (the cache remembers it, so the next pass, which
 * may come before the watch event, does not write it again). Answers the number of failures.
 */
export async function applyStatusWrites(
  patcher: RequestStatusPatcher,
  writes: readonly StatusWrite[],
  logger: Logger,
  onWritten?: (written: unknown) => void,
): Promise<number> {
  let failures = 0;
  for (const write of writes) {
    const { namespace, name } = write;
    let written: unknown;
    try {
      written = await patcher.patchRequestStatus(namespace, name, statusPatchBody(write));
    } catch (error) {
      if (isNotFound(error) || isConflict(error)) continue;
      failures++;
      logger.error('writing AccessRequest status failed', { namespace, name, state: write.patch.state, error });
      continue;
    }
    if (written && typeof written === 'object') onWritten?.(written);
    // Debug only: the decisions behind a state change (grant, exec, expiry) are audited already.
    logger.debug('wrote AccessRequest status', { namespace, name, state: write.patch.state });
  }
  return failures;
}
