// What an AccessRequest's status should say at `now`: its state, conditions (for `kubectl wait
// --for=condition=Granted`), when a window ends and how many approvals it has, all derived from
// `evaluateGrant`, the one state machine admission, the reconciler and cleanup ask. Pure: the
// status writer (adapters/kubernetes/status.ts) patches what this returns. The status is for people
// and tools to read; no admission decision reads it (the exec review reads grants and `usedAt`).
import { evaluateGrant, type GrantState } from '../access.ts';
import { brief } from '../kinds.ts';
import { approvalFor, type LoadedPolicy } from '../policy.ts';
import type { AccessGrant, AccessRequest, RequestCondition } from '../schemas.ts';

export type RequestStateName = 'Pending' | 'Granted' | 'Denied' | 'Expired' | 'Used' | 'Invalid';
export const CONDITION_TYPES = ['Granted', 'Denied', 'Expired', 'Used'] as const;
export type ConditionType = (typeof CONDITION_TYPES)[number];

export interface Condition {
  type: ConditionType;
  status: 'True' | 'False';
  /** CamelCase, one word: why the condition has this status. */
  reason: string;
  message: string;
  lastTransitionTime: string;
}

/**
 * The fields of the status this module owns, as a JSON merge patch of the status subresource:
 * `null` removes a field. Never `usedAt` (nor `uses`): those are the exec review's consume.
 */
export interface StatusPatch {
  state: RequestStateName;
  conditions: Condition[];
  command: string;
  expiresAt: string | null;
  approvals: string | null;
}

const STATE_NAMES: Record<GrantState['state'], RequestStateName> = {
  pending: 'Pending',
  granted: 'Granted',
  denied: 'Denied',
  expired: 'Expired',
  used: 'Used',
  invalid: 'Invalid',
};

/** The names of the approvers, "carol", "carol and dave", "carol, dave and erin". */
function names(list: readonly string[]): string {
  if (list.length <= 1) return list[0] ?? '';
  return `${list.slice(0, -1).join(', ')} and ${list[list.length - 1]}`;
}

/** "granted by carol", "granted by carol and dave (2 of 2 approvals)", "pre-approved by AccessPolicy p". */
function grantedText(state: Extract<GrantState, { grant: AccessGrant }>, required: number): string {
  if (state.state === 'granted') {
    if (state.policy) return `pre-approved by AccessPolicy ${state.policy}`;
    const by = names(state.grants.map((g) => g.spec.grantedBy.username));
    return required > 1 ? `granted by ${by} (${state.grants.length} of ${required} approvals)` : `granted by ${by}`;
  }
  const by = state.grant.spec.grantedBy.username;
  return by.startsWith('AccessPolicy/') && !state.grant.metadata.name
    ? `pre-approved by AccessPolicy ${by.slice('AccessPolicy/'.length)}`
    : `granted by ${by}`;
}

function conditionsFor(
  state: GrantState,
  request: AccessRequest,
  required: number,
): Omit<Condition, 'lastTransitionTime'>[] {
  const t = (type: ConditionType, yes: boolean, reason: string, message: string) => ({
    type,
    status: yes ? ('True' as const) : ('False' as const),
    reason,
    message,
  });
  const window = request.spec.validFor;
  switch (state.state) {
    case 'pending': {
      const waiting =
        required > 1
          ? `${state.approvals} of ${required} approvals${state.approvals ? ` (${names(state.approvedBy)})` : ''}; waiting for ${required - state.approvals} more`
          : 'waiting for an approver';
      return [
        t('Granted', false, 'AwaitingApproval', waiting),
        t('Denied', false, 'NotDenied', 'no approver denied it'),
        t(
          'Expired',
          false,
          'NotStarted',
          window ? `the ${window} window starts when it is granted` : 'one use, no window',
        ),
        t('Used', false, 'NotUsed', 'not used'),
      ];
    }
    case 'denied': {
      const reason = state.grant.spec.reason;
      const denied = `denied by ${state.grant.spec.grantedBy.username}${reason ? `: ${reason}` : ''}`;
      return [
        t('Granted', false, 'Denied', denied),
        t('Denied', true, 'Denied', denied),
        t('Expired', false, 'NotStarted', 'denied, no window'),
        t('Used', false, 'NotUsed', 'not used'),
      ];
    }
    case 'granted': {
      const granted = grantedText(state, required);
      return [
        t('Granted', true, state.policy ? 'PreApproved' : 'Approved', granted),
        t('Denied', false, 'NotDenied', 'no approver denied it'),
        t(
          'Expired',
          false,
          state.expiresAt ? 'WithinWindow' : 'NoWindow',
          state.expiresAt ? `the ${window} window ends at ${state.expiresAt.toISOString()}` : 'one use, no window',
        ),
        t('Used', false, 'NotUsed', 'not used yet'),
      ];
    }
    case 'used': {
      const used = `used at ${state.usedAt.toISOString()}`;
      return [
        t('Granted', false, 'Used', `${grantedText(state, required)}; ${used}`),
        t('Denied', false, 'NotDenied', 'no approver denied it'),
        t('Expired', false, 'NoWindow', 'one use, no window'),
        t('Used', true, 'Used', used),
      ];
    }
    case 'expired': {
      const ended = `the ${window} window ended at ${state.expiresAt.toISOString()}`;
      return [
        t('Granted', false, 'Expired', `${grantedText(state, required)}; ${ended}`),
        t('Denied', false, 'NotDenied', 'no approver denied it'),
        t('Expired', true, 'WindowEnded', ended),
        t('Used', false, 'NotUsed', 'time-bound: used as often as needed within the window'),
      ];
    }
    case 'invalid':
      return [
        t('Granted', false, 'Invalid', state.reason),
        t('Denied', false, 'NotDenied', 'no approver denied it'),
        t('Expired', false, 'NotStarted', 'invalid, no window'),
        t('Used', false, 'NotUsed', 'not used'),
      ];
  }
}

/** "1/2" where the policies want more than one approval; null otherwise (and for pre-approvals). */
function approvalsText(state: GrantState, required: number): string | null {
  if (required <= 1) return null;
  switch (state.state) {
    case 'pending':
      return `${state.approvals}/${required}`;
    case 'granted':
      return state.policy ? null : `${state.grants.length}/${required}`;
    case 'used':
    case 'expired':
      return state.grant.metadata.name ? `${required}/${required}` : null;
    default:
      return null;
  }
}

export interface StatusInput {
  request: AccessRequest;
  /** Grants of the request's namespace (or more): only those that belong to it count. */
  grants: readonly AccessGrant[];
  policies?: readonly LoadedPolicy[];
  now: Date;
  usernamePrefix?: string;
}

/** The state of the request at `now`, as its status names it. */
export function grantStateOf(input: StatusInput): GrantState {
  return evaluateGrant(input.request, input.grants, input.now, input.usernamePrefix ?? '', input.policies ?? []);
}

/**
 * The status the request should have at `now`, as a merge patch, or undefined when its current
 * status already says exactly that (nothing to write). A condition keeps its lastTransitionTime
 * while its status (True/False) stays; a new reason or message alone is no transition.
 */
export function desiredStatus(input: StatusInput): StatusPatch | undefined {
  return statusOf(input).patch;
}

/** What the status writer needs of one request: its write, and when its status next changes by the clock. */
export interface RequestStatus {
  /** undefined: its status says it already. */
  patch?: StatusPatch;
  /** When a window ends and its state becomes Expired with no event; undefined when the clock changes nothing. */
  changesAt?: Date;
}

/** desiredStatus and when it changes by the clock alone, from one evaluation of the request. */
export function statusOf(input: StatusInput): RequestStatus {
  const { request, now } = input;
  const state = grantStateOf(input);
  const required = approvalFor(request, input.policies ?? []).required;
  const previous = new Map<string, RequestCondition>((request.status?.conditions ?? []).map((c) => [c.type, c]));
  const conditions = conditionsFor(state, request, required).map((condition): Condition => {
    const before = previous.get(condition.type);
    const kept = before && before.status === condition.status ? before.lastTransitionTime : undefined;
    return { ...condition, lastTransitionTime: kept ?? now.toISOString() };
  });
  const expiresAt = state.state === 'granted' || state.state === 'expired' ? state.expiresAt : undefined;
  const patch: StatusPatch = {
    state: STATE_NAMES[state.state],
    conditions,
    command: brief(request.spec),
    expiresAt: expiresAt ? expiresAt.toISOString() : null,
    approvals: approvalsText(state, required),
  };
  const changesAt = state.state === 'granted' && expiresAt && expiresAt > now ? expiresAt : undefined;
  return { ...(saysAlready(request, patch) ? {} : { patch }), ...(changesAt ? { changesAt } : {}) };
}

function saysAlready(request: AccessRequest, patch: StatusPatch): boolean {
  const current = request.status ?? {};
  if (current.state !== patch.state || current.command !== patch.command) return false;
  if ((current.approvals ?? null) !== patch.approvals) return false;
  if (!sameInstant(current.expiresAt, patch.expiresAt)) return false;
  const conditions = current.conditions ?? [];
  if (conditions.length !== patch.conditions.length) return false;
  return patch.conditions.every((want, i) => {
    const have = conditions[i]!;
    return (
      have.type === want.type &&
      have.status === want.status &&
      have.reason === want.reason &&
      have.message === want.message &&
      sameInstant(have.lastTransitionTime, want.lastTransitionTime)
    );
  });
}

/** The apiserver writes date-times back at second precision: compare instants, not text. */
function sameInstant(a: string | null | undefined, b: string | null | undefined): boolean {
  if (!a || !b) return !a && !b;
  return Date.parse(a) === Date.parse(b);
}

export interface StatusWrite {
  namespace: string;
  name: string;
  uid: string;
  patch: StatusPatch;
}

export interface StatusPlan {
  writes: StatusWrite[];
  /** When a status changes by the clock alone (a window ends); undefined when none will. */
  nextChangeAt?: Date;
}

/** The grants that name a request, by its namespace and name (the grants cache's grantFor index). */
export type GrantsOf = (namespace: string, name: string) => readonly AccessGrant[];

export interface PlanInput {
  policies?: readonly LoadedPolicy[];
  now: Date;
  usernamePrefix?: string;
}

/**
 * The status writes due at `now` for `requests` (each with its grants), and when each changes by
 * the clock alone: `onChangesAt` hears every planned request, with undefined for none (or for a
 * request being deleted, which gets no status). Grants are taken in name order, so that which of
 * two denials a status cites does not depend on the order a cache holds them in.
 */
export function planRequests(
  input: PlanInput & {
    requests: Iterable<AccessRequest>;
    grantsOf: GrantsOf;
    onChangesAt?: (request: AccessRequest, changesAt: Date | undefined) => void;
  },
): StatusPlan {
  const writes: StatusWrite[] = [];
  let nextChangeAt: Date | undefined;
  for (const request of input.requests) {
    if (request.metadata.deletionTimestamp) {
      input.onChangesAt?.(request, undefined);
      continue;
    }
    const { namespace = '', name = '', uid = '' } = request.metadata;
    let grants = input.grantsOf(namespace, name);
    if (grants.length > 1) grants = [...grants].sort(byName);
    const { patch, changesAt } = statusOf({ ...input, request, grants });
    if (patch) writes.push({ namespace, name, uid, patch });
    input.onChangesAt?.(request, changesAt);
    if (changesAt && (!nextChangeAt || changesAt < nextChangeAt)) nextChangeAt = changesAt;
  }
  return nextChangeAt ? { writes, nextChangeAt } : { writes };
}

function byName(a: AccessGrant, b: AccessGrant): number {
  const x = a.metadata.name ?? '';
  const y = b.metadata.name ?? '';
  return x < y ? -1 : x > y ? 1 : 0;
}

/** The status writes due at `now` for every request, and when to look again without new events. */
export function planStatuses(
  input: PlanInput & { requests: readonly AccessRequest[]; grants: readonly AccessGrant[] },
): StatusPlan {
  const byRequest = new Map<string, Map<string, AccessGrant[]>>();
  for (const grant of input.grants) {
    const namespace = grant.metadata.namespace;
    if (namespace === undefined) continue;
    let names = byRequest.get(namespace);
    if (!names) byRequest.set(namespace, (names = new Map()));
    const list = names.get(grant.spec.grantFor);
    if (list) list.push(grant);
    else names.set(grant.spec.grantFor, [grant]);
  }
  return planRequests({ ...input, grantsOf: (namespace, name) => byRequest.get(namespace)?.get(name) ?? [] });
}
