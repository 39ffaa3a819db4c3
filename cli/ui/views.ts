// What each part of the page lists, from a snapshot: plain data, no HTML. States come from the
// server's rules (functions/access.ts evaluateGrant with the namespace's AccessPolicies), or from
// `status.state` where the server wrote one: it sees every policy, the user perhaps not.
import type { AccessGrant, AccessRequest } from '../../functions/schemas.ts';
import { kubectlCommand, requestState, type GrantState } from '../lib/requests.ts';
import type { ConnectionOptions } from '../lib/cluster.ts';
import { knowsPolicies, type Snapshot } from './source.ts';

export type Shown = 'pending' | 'granted' | 'denied' | 'used' | 'expired' | 'invalid';
const SHOWN = new Set<string>(['pending', 'granted', 'denied', 'used', 'expired', 'invalid']);

export interface Row {
  request: AccessRequest;
  /** evaluateGrant's answer, with the policies of the request's namespace where the user may read them. */
  state: GrantState;
  /** `status.state` when the server wrote one, else `state.state`. */
  shown: Shown;
  /** Whether the page knows the AccessPolicies of the request's namespace. */
  policiesKnown: boolean;
  /** The AccessGrants of this very request object (its uid), reviews included. */
  grants: AccessGrant[];
}

const HISTORY_STATES = new Set<Shown>(['granted', 'denied', 'used', 'expired', 'invalid']);

function created(request: AccessRequest): number {
  return Date.parse(request.metadata.creationTimestamp ?? '') || 0;
}

/** The server's `status` fields this page reads (session STATUS and SCOPE write them). */
interface ServerStatus {
  state?: unknown;
  approvals?: unknown;
  uses?: unknown;
  usedAt?: unknown;
}

function serverStatus(request: AccessRequest): ServerStatus {
  return (request.status ?? {}) as ServerStatus;
}

function shownState(request: AccessRequest, state: GrantState): Shown {
  const written = serverStatus(request).state;
  const lower = typeof written === 'string' ? written.toLowerCase() : '';
  return SHOWN.has(lower) ? (lower as Shown) : state.state;
}

export function rowFor(request: AccessRequest, snapshot: Snapshot, now: Date): Row {
  const policiesKnown = knowsPolicies(snapshot, request.metadata.namespace);
  const state = requestState(request, snapshot.grants, now, policiesKnown ? snapshot.policies : []);
  const grants = snapshot.grants.filter(
    (grant) =>
      grant.spec.grantFor === request.metadata.name &&
      (grant.metadata.namespace ?? request.metadata.namespace) === request.metadata.namespace &&
      !!request.metadata.uid &&
      grant.spec.grantForUID === request.metadata.uid,
  );
  return { request, state, shown: shownState(request, state), policiesKnown, grants };
}

function rows(snapshot: Snapshot, now: Date): Row[] {
  return snapshot.requests
    .filter((request) => !request.metadata.deletionTimestamp)
    .map((request) => rowFor(request, snapshot, now));
}

/** Pending requests of others, oldest first: what an approver answers. */
export function queue(snapshot: Snapshot, me: string, now: Date): Row[] {
  return rows(snapshot, now)
    .filter((row) => row.shown === 'pending' && row.request.spec.userInfo.username !== me)
    .sort((a, b) => created(a.request) - created(b.request));
}

/** The user's own requests, newest first, in any state. */
export function mine(snapshot: Snapshot, me: string, now: Date): Row[] {
  return rows(snapshot, now)
    .filter((row) => row.request.spec.userInfo.username === me)
    .sort((a, b) => created(b.request) - created(a.request));
}

/** Decided requests (granted, denied, used, expired), newest decision first. */
export function history(snapshot: Snapshot, now: Date): Row[] {
  const decidedAt = (row: Row) =>
    ('grant' in row.state ? Date.parse(row.state.grant.metadata.creationTimestamp ?? '') : NaN) || created(row.request);
  return rows(snapshot, now)
    .filter((row) => HISTORY_STATES.has(row.shown))
    .sort((a, b) => decidedAt(b) - decidedAt(a));
}

export function find(snapshot: Snapshot, namespace: string, name: string, now: Date): Row | undefined {
  const request = snapshot.requests.find(
    (r) => r.metadata.namespace === namespace && r.metadata.name === name && !r.metadata.deletionTimestamp,
  );
  return request && rowFor(request, snapshot, now);
}

/** "1/2" from `status.approvals`, as numbers. */
function writtenApprovals(request: AccessRequest): { approvals: number; required: number } | undefined {
  const match = /^(\d+)\/(\d+)$/.exec(String(serverStatus(request).approvals ?? ''));
  return match ? { approvals: Number(match[1]), required: Number(match[2]) } : undefined;
}

/** Who approved so far (distinct approvers), from the grants of this request object. */
export function approvers(row: Row): string[] {
  if (row.state.state === 'pending') return row.state.approvedBy;
  if (row.state.state === 'granted') return row.state.grants.map((grant) => grant.spec.grantedBy.username);
  return [
    ...new Set(row.grants.filter((grant) => grant.status === 'granted').map((grant) => grant.spec.grantedBy.username)),
  ];
}

/**
 * For a pending request, approvals so far and what is still required: "1 of 2 approvals: carol;
 * needs 1 more". Where the user may not read the namespace's policies, what the server wrote
 * (`status.approvals`), else only who approved.
 */
export function approvalText(row: Row): string | undefined {
  if (row.shown !== 'pending') return undefined;
  const by = approvers(row);
  const counts =
    row.policiesKnown && row.state.state === 'pending'
      ? { approvals: row.state.approvals, required: row.state.required }
      : writtenApprovals(row.request);
  const names = by.length > 0 ? `: ${by.join(', ')}` : '';
  if (!counts) return by.length > 0 ? `approved so far by ${by.join(', ')}` : 'no approvals yet';
  const { approvals, required } = counts;
  if (required <= 1 && approvals === 0) return 'needs 1 approval';
  return `${approvals} of ${required} approval${required === 1 ? '' : 's'}${names}; needs ${Math.max(0, required - approvals)} more`;
}

/** Why a pending request's approvals lack what is required: the namespace's policies are hidden. */
export function hiddenPoliciesText(row: Row): string | undefined {
  if (row.shown !== 'pending' || row.policiesKnown || writtenApprovals(row.request)) return undefined;
  return `the AccessPolicies of ${row.request.metadata.namespace} are not visible to you`;
}

/**
 * A caveat where the page cannot be sure: granted as far as it can tell, but the namespace's
 * policies (which may want more approvals) are not visible to the user and the server wrote no state.
 */
export function unsureText(row: Row): string | undefined {
  if (row.policiesKnown || serverStatus(row.request).state !== undefined) return undefined;
  // (A pending request's approvals already say so.)
  if (row.state.state !== 'granted' || row.state.policy) return undefined;
  return `the AccessPolicies of ${row.request.metadata.namespace} are not visible to you: it may need more approvals`;
}

export interface Badge {
  kind: 'pre-approved' | 'break-glass' | 'needs-review' | 'reviewed' | 'narrowed';
  text: string;
}

/** What the grants (and policies) say about a request beyond its state. */
export function badges(row: Row): Badge[] {
  const out: Badge[] = [];
  if (row.state.state === 'granted' && row.state.policy) {
    out.push({ kind: 'pre-approved', text: `pre-approved by AccessPolicy ${row.state.policy}` });
  }
  const breakGlass = row.grants.filter((grant) => (grant.spec as { breakGlass?: unknown }).breakGlass === true);
  const reviews = row.grants.filter((grant) => (grant.status as string) === 'reviewed');
  if (breakGlass.length > 0) {
    out.push({ kind: 'break-glass', text: `break-glass by ${breakGlass.map((g) => g.spec.grantedBy.username).join(', ')}` });
    if (reviews.length === 0) out.push({ kind: 'needs-review', text: 'needs review' });
  }
  if (reviews.length > 0) {
    out.push({ kind: 'reviewed', text: `reviewed by ${reviews.map((g) => g.spec.grantedBy.username).join(', ')}` });
  }
  const narrowed = narrowing('grant' in row.state ? row.state.grant : undefined);
  if (narrowed) out.push({ kind: 'narrowed', text: `narrowed to ${narrowed}` });
  return out;
}

/** "10m, 3 uses" for a grant that narrows its request (spec.validFor, spec.maxUses), else undefined. */
export function narrowing(grant: AccessGrant | undefined): string | undefined {
  const spec = (grant?.spec ?? {}) as { validFor?: unknown; maxUses?: unknown };
  const parts = [
    ...(typeof spec.validFor === 'string' && spec.validFor ? [spec.validFor] : []),
    ...(typeof spec.maxUses === 'number' ? [`${spec.maxUses} use${spec.maxUses === 1 ? '' : 's'}`] : []),
  ];
  return parts.length > 0 ? parts.join(', ') : undefined;
}

/** How many uses a request allows: 1 (one-shot), a number (spec.maxUses), or undefined (any in the window). */
export function usesAllowed(request: AccessRequest): number | undefined {
  const maxUses = (request.spec as { maxUses?: unknown }).maxUses;
  if (typeof maxUses === 'number') return maxUses;
  return request.spec.validFor ? undefined : 1;
}

/** "2 of 5 uses", "used at …", or undefined. */
export function usesText(row: Row): string | undefined {
  const { uses, usedAt } = serverStatus(row.request);
  const allowed = usesAllowed(row.request);
  const used = typeof usedAt === 'string' && usedAt ? `used ${usedAt}` : undefined;
  // A one-shot request: when its one use went through says more than "1 of 1 uses".
  if (allowed === 1 && used) return used;
  if (typeof uses === 'number' && uses > 0) return allowed ? `${uses} of ${allowed} uses` : `${uses} uses`;
  return used;
}

/** The argv a request allows, exactly: undefined = any command (exec), or a kind without a command. */
export function argv(request: AccessRequest): readonly string[] | undefined {
  const command = request.spec.execOptions?.command ?? request.spec.debugOptions?.command;
  return command && command.length > 0 ? command : undefined;
}

/** `spec.reason`, where the request carries one (an optional field some clusters' requests have). */
export function reasonOf(request: AccessRequest): string | undefined {
  const reason = (request.spec as { reason?: unknown }).reason;
  return typeof reason === 'string' && reason ? reason : undefined;
}

export function containerOf(request: AccessRequest): string | undefined {
  const spec = request.spec;
  return spec.execOptions?.container || spec.attachOptions?.container || spec.debugOptions?.target || undefined;
}

/**
 * The command to run once granted (kubectl exec, attach, …), as the CLI prints it; with the
 * connection flags the page was started with, for the user's own requests.
 */
export function runCommand(request: AccessRequest, connection: ConnectionOptions = {}): string | undefined {
  return kubectlCommand(request, connection);
}
