// What each part of the page lists, from a snapshot: plain data, no HTML.
import type { AccessRequest } from '../../functions/schemas.ts';
import { kubectlCommand, requestState, type GrantState } from '../lib/requests.ts';
import type { Snapshot } from './source.ts';

export interface Row {
  request: AccessRequest;
  state: GrantState;
}

const HISTORY_STATES = new Set(['granted', 'denied', 'used', 'expired', 'invalid']);

function created(request: AccessRequest): number {
  return Date.parse(request.metadata.creationTimestamp ?? '') || 0;
}

function rows(snapshot: Snapshot, now: Date): Row[] {
  return snapshot.requests
    .filter((request) => !request.metadata.deletionTimestamp)
    .map((request) => ({ request, state: requestState(request, snapshot.grants, now) }));
}

/** Pending requests of others, oldest first: what an approver answers. */
export function queue(snapshot: Snapshot, me: string, now: Date): Row[] {
  return rows(snapshot, now)
    .filter((row) => row.state.state === 'pending' && row.request.spec.userInfo.username !== me)
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
  const decidedAt = (row: Row) => ('grant' in row.state ? Date.parse(row.state.grant.metadata.creationTimestamp ?? '') || 0 : 0);
  return rows(snapshot, now)
    .filter((row) => HISTORY_STATES.has(row.state.state))
    .sort((a, b) => decidedAt(b) - decidedAt(a));
}

export function find(snapshot: Snapshot, namespace: string, name: string, now: Date): Row | undefined {
  return rows(snapshot, now).find((row) => row.request.metadata.namespace === namespace && row.request.metadata.name === name);
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

/** The command to run once granted (kubectl exec, attach, …), as the CLI prints it. */
export function runCommand(request: AccessRequest): string | undefined {
  return kubectlCommand(request);
}
