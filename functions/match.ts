// Shared by every pod concern (exec and its friends): which AccessRequests speak of this review,
// and the verdict from the best of them. Each kind of access adds only its own option matching.
import { evaluateGrant, isSameUser, specNamesFor, type GrantState } from './access.ts';
import { formatDuration } from './duration.ts';
import type { AccessRequest, AdmissionRequest } from './schemas.ts';
import { allow, deny, type AuditEvent, type Context, type Decision, type Effect, type Lookup } from './types.ts';

/**
 * True when `candidate` is a live request of the reviewed user for this very pod and subresource.
 * A request for one subresource never matches another.
 */
export function targetsPod(
  candidate: AccessRequest,
  review: Pick<AdmissionRequest, 'namespace' | 'name' | 'userInfo'>,
  subResource: string,
  prefix: string,
): boolean {
  const { spec, metadata } = candidate;
  return (
    metadata.namespace === review.namespace &&
    spec.forObject.namespace === review.namespace &&
    spec.forObject.name === review.name &&
    spec.forObject.subResource === subResource &&
    spec.forObject.resource.resource === 'pods' &&
    !spec.forObject.resource.group &&
    !metadata.deletionTimestamp &&
    isSameUser(spec.userInfo.username, review.userInfo.username, prefix)
  );
}

export function sameArgv(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((arg, i) => arg === b[i]);
}

// A used one-shot request is history: a pending new one says more about what to do next.
const PREFERENCE: Record<GrantState['state'], number> = {
  granted: 0,
  denied: 1,
  expired: 2,
  pending: 3,
  used: 4,
  invalid: 5,
};

export interface GrantSearch {
  review: AdmissionRequest;
  lookup: Lookup;
  context: Context;
  /** The concern's own test, on top of the caller's pod and user (`targetsPod` is the usual start). */
  matches: (candidate: AccessRequest) => boolean;
  /** What is being done, for messages: `exec of "ls" in pod ns/p container c` (a function: built only for a denial). */
  what: string | (() => string);
  /** The `kubectl request ...` command that would ask for exactly this (a function: built only for a denial). */
  again: string | (() => string);
  /** The noun in "it is used up by this exec". */
  usedBy: string;
  /** Whether a one-shot request is used up by this review (default true). */
  consume?: boolean;
}

export interface Evaluated {
  candidate: AccessRequest;
  state: GrantState;
}

/** Matching requests with their grant state, best first: granted, then denied, expired, pending. */
export async function evaluateCandidates(search: Omit<GrantSearch, 'what' | 'again' | 'usedBy'>): Promise<Evaluated[]> {
  const { review, lookup, context } = search;
  const prefix = context.config.usernamePrefix;
  const candidates = (
    await lookup.accessRequestsFor({
      namespace: review.namespace,
      pod: review.name,
      usernames: specNamesFor(review.userInfo.username, prefix),
    })
  ).filter(search.matches);
  const policies = candidates.length ? await lookup.policiesFor(review.namespace) : [];
  const evaluated = await Promise.all(
    candidates.map(async (candidate) => ({
      candidate,
      state: evaluateGrant(
        candidate,
        await lookup.grantsFor(review.namespace, candidate.metadata.name),
        context.now,
        prefix,
        policies,
        // The requester is the one reviewed: a break-glass grant counts while they are in its group.
        review.userInfo,
      ),
    })),
  );
  await checkPins(evaluated, review, lookup);
  // Prefer what this review does not use up (a window without a count) over counting a use.
  return evaluated.sort(
    (a, b) =>
      PREFERENCE[a.state.state] - PREFERENCE[b.state.state] || Number(counted(a.state)) - Number(counted(b.state)),
  );
}

function counted(state: GrantState): boolean {
  return state.state !== 'granted' || state.maxUses !== undefined;
}

/**
 * A granted request pinned to a pod object (spec.forObject.uid) covers only that object: a pod
 * re-created under the same name is another one. The pod's uid comes from the review where it
 * carries the pod (kubectl debug), else from one bounded live read, asked only when a granted
 * candidate is pinned. A failed read rejects: the review fails closed.
 */
async function checkPins(evaluated: Evaluated[], review: AdmissionRequest, lookup: Lookup): Promise<void> {
  let current: Promise<string | undefined> | undefined;
  const podUID = () =>
    (current ??= (async () => {
      const carried = (review.object as { metadata?: { uid?: unknown } } | null | undefined)?.metadata?.uid;
      if (review.subResource === 'ephemeralcontainers' && typeof carried === 'string' && carried) return carried;
      return lookup.podUID(review.namespace, review.name);
    })());
  for (const entry of evaluated) {
    const pinned = entry.candidate.spec.forObject.uid;
    if (!pinned || entry.state.state !== 'granted') continue;
    const uid = await podUID();
    if (uid === pinned) continue;
    const pod = `pod ${review.namespace}/${review.name}`;
    entry.state = {
      state: 'invalid',
      reason: uid
        ? `it is pinned to ${pod} with uid ${pinned}, and the pod of that name now is another object (uid ${uid}): it was re-created`
        : `it is pinned to ${pod} with uid ${pinned}, and there is no such pod now`,
    };
  }
}

/**
 * Picks the request that lets this review through. Without one, explains the most useful reason
 * (denied > expired > pending > none) and what to run next.
 */
export async function findGrantedRequest(search: GrantSearch): Promise<Decision> {
  const best = (await evaluateCandidates(search))[0];
  return verdictFor(best, search);
}

/** The AdmissionResponse's auditAnnotations for an allowed review (keys: lowercase DNS labels, no slash). */
export const AUDIT_ANNOTATION_KEYS = {
  request: 'access-request',
  requestUID: 'access-request-uid',
  grants: 'access-grants',
  policy: 'access-policy',
  breakGlass: 'break-glass-policy',
  /** `2/3`: this is the second of the three uses the request allows. */
  use: 'access-request-use',
} as const;

function grantAnnotations(
  request: AccessRequest,
  state: Extract<GrantState, { state: 'granted' }>,
): Record<string, string> {
  const { namespace, name, uid } = request.metadata;
  return {
    [AUDIT_ANNOTATION_KEYS.request]: `${namespace}/${name}`,
    [AUDIT_ANNOTATION_KEYS.requestUID]: uid,
    ...(state.grants.length
      ? {
          [AUDIT_ANNOTATION_KEYS.grants]: state.grants
            .map((grant) => `${grant.metadata.namespace || namespace}/${grant.metadata.name}`)
            .join(','),
        }
      : {}),
    ...(state.policy ? { [AUDIT_ANNOTATION_KEYS.policy]: state.policy } : {}),
    ...(state.breakGlass ? { [AUDIT_ANNOTATION_KEYS.breakGlass]: state.breakGlass.policy } : {}),
    ...(state.maxUses !== undefined ? { [AUDIT_ANNOTATION_KEYS.use]: `${state.uses + 1}/${state.maxUses}` } : {}),
  };
}

export function verdictFor(
  best: Evaluated | undefined,
  search: Pick<GrantSearch, 'review' | 'context' | 'what' | 'again' | 'usedBy' | 'consume'>,
): Decision {
  const { review, context, usedBy } = search;
  // Only denials say these: an allowed review does not build them.
  const what = () => (typeof search.what === 'function' ? search.what() : search.what);
  const again = () => (typeof search.again === 'function' ? search.again() : search.again);
  if (!best) {
    return deny(`no AccessRequest of yours matches this ${what()}; request it with: ${again()}`);
  }
  const name = best.candidate.metadata.name;
  switch (best.state.state) {
    case 'granted': {
      const { expiresAt, maxUses, uses } = best.state;
      const auditAnnotations = grantAnnotations(best.candidate, best.state);
      const by = best.state.policy
        ? `, pre-approved by AccessPolicy ${best.state.policy}`
        : best.state.breakGlass
          ? `, break-glass under AccessPolicy ${best.state.breakGlass.policy} (audited, and to be reviewed)`
          : '';
      const audit: AuditEvent[] = best.state.breakGlass
        ? [
            {
              type: 'audit-break-glass',
              data: {
                request: review,
                phase: 'used',
                accessRequest: best.candidate,
                accessGrant: best.state.grant,
                policy: best.state.breakGlass.policy,
              },
            },
          ]
        : [];
      const until = expiresAt
        ? ` until ${expiresAt.toISOString()} (${formatDuration(expiresAt.getTime() - context.now.getTime())} left)`
        : '';
      if (maxUses === undefined)
        return allow(`granted by AccessRequest ${name}${by}${until}`, { auditAnnotations, audit });
      if (search.consume === false) {
        return allow(`granted by AccessRequest ${name}${by}${until}; this ${usedBy} does not use it up`, {
          auditAnnotations,
          audit,
        });
      }
      const { uid, resourceVersion, namespace } = best.candidate.metadata;
      const effect: Effect = {
        type: 'consume-request',
        namespace,
        name,
        uid,
        resourceVersion,
        ...(best.candidate.status ? { status: best.candidate.status } : {}),
        maxUses,
        ...(expiresAt ? { expiresAt: expiresAt.toISOString() } : {}),
      };
      const message =
        maxUses === 1 && !expiresAt
          ? `granted once by AccessRequest ${name}${by}; it is used up by this ${usedBy}`
          : `granted by AccessRequest ${name}${by}${until}: use ${uses + 1} of ${maxUses}${uses + 1 === maxUses ? ', the last' : ''}`;
      return allow(message, { effects: [effect], auditAnnotations, audit });
    }
    case 'denied': {
      const { grant } = best.state;
      const reason = grant.spec.reason ? `: ${grant.spec.reason}` : '';
      return deny(
        `AccessRequest ${name} was denied by ${grant.spec.grantedBy.username}${reason}; to ask again: ${again()}`,
      );
    }
    case 'used':
      return deny(
        best.state.maxUses === 1 && !best.candidate.spec.validFor
          ? `AccessRequest ${name} was used at ${best.state.usedAt.toISOString()}: a one-shot request allows exactly one ${usedBy}; request again: ${again()}`
          : `AccessRequest ${name} is used up: ${best.state.maxUses === 1 ? 'the one use' : `all ${best.state.maxUses} uses`} it allows went through (the last at ${best.state.usedAt.toISOString()}); request again: ${again()}`,
      );
    case 'expired':
      return deny(`AccessRequest ${name} expired at ${best.state.expiresAt.toISOString()}; request again: ${again()}`);
    case 'pending': {
      const { approvals, required, approvedBy } = best.state;
      if (approvals > 0) {
        return deny(
          `AccessRequest ${name} has ${approvals} of ${required} approvals (by ${approvedBy.join(', ')}); ask another approver to run: kubectl request grant -n ${review.namespace} ${name}`,
        );
      }
      return deny(
        `AccessRequest ${name} is not granted yet; ask an approver to run: kubectl request grant -n ${review.namespace} ${name}`,
      );
    }
    case 'invalid':
      return deny(`AccessRequest ${name} cannot be used: ${best.state.reason}; request again: ${again()}`);
  }
}
