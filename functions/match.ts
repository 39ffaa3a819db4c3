// Shared by every pod concern (exec and its friends): which AccessRequests speak of this review,
// and the verdict from the best of them. Each concern adds only its own option matching.
import { evaluateGrant, isSameUser, shellQuote, specNamesFor, type GrantState } from './access.ts';
import { formatDuration } from './duration.ts';
import type { AccessRequest, AdmissionRequest } from './schemas.ts';
import { allow, deny, type Context, type Decision, type Lookup } from './types.ts';

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
const PREFERENCE: Record<GrantState['state'], number> = { granted: 0, denied: 1, expired: 2, pending: 3, used: 4, invalid: 5 };

export interface GrantSearch {
  review: AdmissionRequest;
  lookup: Lookup;
  context: Context;
  /** The concern's own test, on top of the caller's pod and user (`targetsPod` is the usual start). */
  matches: (candidate: AccessRequest) => boolean;
  /** What is being done, for messages: `exec of "ls" in pod ns/p container c`. */
  what: string;
  /** The `kubectl request ...` command that would ask for exactly this. */
  again: string;
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
  const evaluated = await Promise.all(
    candidates.map(async (candidate) => ({
      candidate,
      state: evaluateGrant(candidate, await lookup.grantsFor(review.namespace, candidate.metadata.name), context.now, prefix),
    })),
  );
  // Prefer a time-bound grant over consuming a one-shot one.
  return evaluated.sort(
    (a, b) =>
      PREFERENCE[a.state.state] - PREFERENCE[b.state.state] ||
      Number(!a.candidate.spec.validFor) - Number(!b.candidate.spec.validFor),
  );
}

/**
 * Picks the request that lets this review through. Without one, explains the most useful reason
 * (denied > expired > pending > none) and what to run next.
 */
export async function findGrantedRequest(search: GrantSearch): Promise<Decision> {
  const best = (await evaluateCandidates(search))[0];
  return verdictFor(best, search);
}

export function verdictFor(best: Evaluated | undefined, search: Pick<GrantSearch, 'review' | 'context' | 'what' | 'again' | 'usedBy' | 'consume'>): Decision {
  const { review, context, what, again, usedBy } = search;
  if (!best) {
    return deny(`no AccessRequest of yours matches this ${what}; request it with: ${again}`);
  }
  const name = best.candidate.metadata.name;
  switch (best.state.state) {
    case 'granted': {
      const { expiresAt } = best.state;
      if (expiresAt) {
        return allow(`granted by AccessRequest ${name} until ${expiresAt.toISOString()} (${formatDuration(expiresAt.getTime() - context.now.getTime())} left)`);
      }
      if (search.consume === false) {
        return allow(`granted by AccessRequest ${name}; this ${usedBy} does not use it up`);
      }
      const { uid, resourceVersion, namespace } = best.candidate.metadata;
      return allow(`granted once by AccessRequest ${name}; it is used up by this ${usedBy}`, {
        effects: [{ type: 'consume-request', namespace, name, uid, resourceVersion }],
      });
    }
    case 'denied': {
      const { grant } = best.state;
      const reason = grant.spec.reason ? `: ${grant.spec.reason}` : '';
      return deny(`AccessRequest ${name} was denied by ${grant.spec.grantedBy.username}${reason}; to ask again: ${again}`);
    }
    case 'used':
      return deny(`AccessRequest ${name} was used at ${best.state.usedAt.toISOString()}: a one-shot request allows exactly one ${usedBy}; request again: ${again}`);
    case 'expired':
      return deny(`AccessRequest ${name} expired at ${best.state.expiresAt.toISOString()}; request again: ${again}`);
    case 'pending':
      return deny(`AccessRequest ${name} is not granted yet; ask an approver to run: kubectl request grant -n ${review.namespace} ${name}`);
    case 'invalid':
      return deny(`AccessRequest ${name} cannot be used: ${best.state.reason}; request again: ${again}`);
  }
}

/** The AccessRequest spec fields that belong to each subresource. */
export const OPTION_FIELDS: Record<string, readonly string[]> = {
  exec: ['execOptions', 'copyOptions'],
  attach: ['attachOptions'],
  portforward: ['portForwardOptions'],
  ephemeralcontainers: ['debugOptions'],
};

/** Request-time check: a request carries only the options of its own subresource. */
export function foreignOptions(spec: AccessRequest['spec'], subResource: string): string | undefined {
  const own = OPTION_FIELDS[subResource] ?? [];
  const other = Object.values(OPTION_FIELDS)
    .flat()
    .find((field) => !own.includes(field) && (spec as Record<string, unknown>)[field] !== undefined);
  return other
    ? `spec.${other}: does not fit subResource "${subResource}" (a request for one subresource never allows another); make one request per subresource`
    : undefined;
}

/**
 * What a request asks for, as label/value lines for people deciding on it (the approver's summary,
 * audit messages): one line per thing the grant would allow, for every subresource.
 */
export function requestedAccess(spec: AccessRequest['spec']): [string, string][] {
  switch (spec.forObject.subResource) {
    case 'exec': {
      const container = spec.execOptions?.container || '(default)';
      if (spec.copyOptions) {
        return [
          ['container', container],
          ['copy in', `kubectl cp into ${spec.copyOptions.path}: stdin to tar, may write any file below ${spec.copyOptions.path}`],
        ];
      }
      const command = spec.execOptions?.command ?? [];
      return [
        ['container', container],
        ['command', command.length ? shellQuote(command) : 'ANY command'],
      ];
    }
    case 'attach':
      return [
        ['container', spec.attachOptions?.container || '(default)'],
        ['attach', 'output only (stdout, stderr)'],
      ];
    case 'portforward': {
      const ports = spec.portForwardOptions?.ports ?? [];
      return [['ports', ports.length ? `${ports.join(', ')} (only for clients that name their ports; kubectl cannot use it)` : 'ANY port of the pod']];
    }
    case 'ephemeralcontainers': {
      const debug = spec.debugOptions;
      const argv = [...(debug?.command ?? []), ...(debug?.args ?? [])];
      return [
        ['image', debug?.image || '(none)'],
        ['target', debug?.target || '(none: no shared processes)'],
        ['container', debug?.container || '(any name)'],
        ['command', argv.length ? shellQuote(argv) : 'the image entrypoint'],
        ['profile', debug?.profile || 'legacy (no added privileges)'],
      ];
    }
    default:
      return [['subresource', spec.forObject.subResource]];
  }
}
