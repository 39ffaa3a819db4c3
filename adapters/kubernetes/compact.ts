// What the caches keep of a parsed AccessRequest, AccessGrant or AccessPolicy: the whole `spec`
// and `status` (every field the policy, the reconciler, cleanup, stats and the CLI-facing status
// read, including those other features add), and of the rest only what they read: name,
// namespace, uid, resourceVersion, the timestamps and our own annotations (`kube-request-access.io/*`).
// Labels, other annotations, ownerReferences, finalizers, generation and the like are dropped;
// apiVersion and kind become shared constants. Every metadata object has the same fields in the
// same order (absent ones undefined), so V8 stores them all with one hidden class, in-object.
// tests/unit/compact.test.ts proves the decisions are the same on full and compacted objects.
import { API_VERSION, GROUP, type ObjectMeta } from '../../functions/schemas.ts';

const OURS = `${GROUP}/`;

/** The metadata the readers of the caches use; the same strings as `metadata` (no copies). */
export function compactMetadata(metadata: ObjectMeta): ObjectMeta {
  return {
    name: metadata.name,
    namespace: shared(metadata.namespace),
    uid: metadata.uid,
    resourceVersion: metadata.resourceVersion,
    creationTimestamp: metadata.creationTimestamp ?? undefined,
    deletionTimestamp: metadata.deletionTimestamp ?? undefined,
    annotations: ourAnnotations(metadata.annotations),
  };
}

/** `object` with compact metadata and constant apiVersion/kind; `spec`, `status` and any other field kept as they are. */
export function compact<T extends { apiVersion?: string; kind?: string; metadata: ObjectMeta }>(
  object: T,
  kind: string,
): T {
  const { apiVersion: _apiVersion, kind: _kind, metadata, ...rest } = object;
  return { apiVersion: API_VERSION, kind: shared(kind), metadata: compactMetadata(metadata), ...rest } as unknown as T;
}

function ourAnnotations(annotations: Record<string, string> | undefined): Record<string, string> | undefined {
  if (!annotations) return undefined;
  let kept: Record<string, string> | undefined;
  for (const key in annotations) if (key.startsWith(OURS)) (kept ??= {})[key] = annotations[key]!;
  return kept;
}

/**
 * One copy of each namespace (and kind) string for all objects, instead of one per object. Only
 * for values of which there are few (namespaces), so the table stays small; capped all the same.
 */
const table = new Map<string, string>();
function shared(value: string): string {
  const found = table.get(value);
  if (found !== undefined) return found;
  if (table.size < 10_000) table.set(value, value);
  return value;
}
