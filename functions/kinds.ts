// The kinds of access, and every table keyed by subresource, derived from this one list. A new
// kind is one folder in functions/ plus one entry here.
import { attachKind } from './attach/index.ts';
import { copyKind } from './copy/index.ts';
import { debugKind } from './debug/index.ts';
import { execKind } from './exec/index.ts';
import type { AccessKind, KubectlHints, RequestSpec } from './kind.ts';
import { portForwardKind } from './portforward/index.ts';
import type { Concern } from './types.ts';

export const KINDS: readonly AccessKind[] = [execKind, copyKind, attachKind, portForwardKind, debugKind];

/** The pods subresources the kinds review, in the order of the list. */
export const SUBRESOURCES: readonly string[] = [...new Set(KINDS.map((kind) => kind.subResource))];

/** The review of each pods subresource (exactly one kind per subresource has one). */
export const REVIEWS: Readonly<Record<string, Concern>> = Object.fromEntries(
  SUBRESOURCES.map((subResource) => {
    const reviews = KINDS.filter((kind) => kind.subResource === subResource && kind.review);
    if (reviews.length !== 1)
      throw new Error(`pods/${subResource} needs exactly one kind with a review, has ${reviews.length}`);
    return [subResource, reviews[0]!.review!];
  }),
);

/** The AccessRequest spec fields each subresource's requests may carry. */
export const OPTION_FIELDS: Readonly<Record<string, readonly string[]>> = Object.fromEntries(
  SUBRESOURCES.map((subResource) => [
    subResource,
    [...new Set(KINDS.filter((kind) => kind.subResource === subResource).flatMap((kind) => kind.optionFields))],
  ]),
);

/** The kind of access a request asks for, or undefined for a subresource no kind reviews. */
export function kindOf(spec: RequestSpec): AccessKind | undefined {
  return KINDS.find((kind) => kind.subResource === spec.forObject.subResource && (kind.claims?.(spec) ?? true));
}

/** Request-time check: a request carries only the options of its own subresource. */
export function foreignOptions(spec: RequestSpec, subResource: string): string | undefined {
  const own = OPTION_FIELDS[subResource] ?? [];
  const other = [...new Set(Object.values(OPTION_FIELDS).flat())].find(
    (field) => !own.includes(field) && (spec as Record<string, unknown>)[field] !== undefined,
  );
  return other
    ? `spec.${other}: does not fit subResource "${subResource}" (a request for one subresource never allows another); make one request per subresource`
    : undefined;
}

/** Request-time rule of a request of `kind`: why it cannot be made (a field path and what to do), or undefined. */
export function requestProblem(kind: AccessKind, spec: RequestSpec): string | undefined {
  return kind.requestRule(spec) ?? foreignOptions(spec, kind.subResource);
}

/** What `alice asks to …`: `port-forward to pod shop/web-0`. */
export function asks(spec: RequestSpec): string {
  return (
    kindOf(spec)?.asks(spec) ??
    `access pods/${spec.forObject.subResource} of pod ${spec.forObject.namespace}/${spec.forObject.name}`
  );
}

/**
 * What a request asks for, as label/value lines for people deciding on it (the approver's summary,
 * audit messages): one line per thing the grant would allow.
 */
export function requestedAccess(spec: RequestSpec): [string, string][] {
  return kindOf(spec)?.describe(spec) ?? [['subresource', spec.forObject.subResource]];
}

/** The list's COMMAND column: what the request asks for, in one short line. */
export function brief(spec: RequestSpec): string {
  return kindOf(spec)?.brief(spec) ?? spec.forObject.subResource;
}

/** "exec" in "once (a single exec)". */
export function oneUse(spec: RequestSpec): string {
  return kindOf(spec)?.oneUse ?? spec.forObject.subResource;
}

/** The kubectl command line (after `kubectl`) a grant of this request allows, or undefined for an unknown subresource. */
export function kubectlArgs(spec: RequestSpec, hints?: KubectlHints): string[] | undefined {
  return kindOf(spec)?.kubectl(spec, hints);
}
