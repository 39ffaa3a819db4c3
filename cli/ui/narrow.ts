// An approver may narrow a request when granting it: a shorter window (AccessGrant spec.validFor)
// and fewer uses (spec.maxUses), never a wider one. The page checks the form here so that obvious
// mistakes get a message before anything reaches the cluster; the webhook judges the grant anyway.
import { parseDuration } from '../../functions/duration.ts';
import type { AccessRequest } from '../../functions/schemas.ts';
import { usesAllowed } from './views.ts';

export interface Narrowing {
  validFor?: string;
  maxUses?: number;
}

/** A Go duration, for the form's `pattern` (the browser anchors it); the server parses it exactly. */
export const DURATION_PATTERN = '([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+';

const MAX_TEXT = 32;

/** The narrowing the form asks for, or the problem with it (a message that says what to do). */
export function readNarrowing(
  form: { validFor?: unknown; maxUses?: unknown },
  request: AccessRequest,
): { ok: true; narrowing: Narrowing } | { ok: false; problem: string } {
  const narrowing: Narrowing = {};
  const validFor = typeof form.validFor === 'string' ? form.validFor.trim() : '';
  const maxUses = typeof form.maxUses === 'string' ? form.maxUses.trim() : '';
  const window = request.spec.validFor;
  if (validFor) {
    const asked = validFor.length <= MAX_TEXT ? parseDuration(validFor) : undefined;
    const shown = JSON.stringify(validFor.slice(0, MAX_TEXT));
    if (asked === undefined) {
      return {
        ok: false,
        problem: `spec.validFor: ${shown} is not a duration; give one such as 15m or 1h30m, or leave it empty to grant the request's own window`,
      };
    }
    if (!window) {
      return {
        ok: false,
        problem: 'spec.validFor: the request is for a single use and has no window to shorten; leave it empty',
      };
    }
    const limit = parseDuration(window);
    if (asked <= 0) return { ok: false, problem: 'spec.validFor: give a window longer than 0, or leave it empty' };
    if (limit === undefined || asked > limit) {
      return {
        ok: false,
        problem: `spec.validFor: a grant can only narrow the request, whose window is ${window}; give ${window} or less, or leave it empty`,
      };
    }
    narrowing.validFor = validFor;
  }
  if (maxUses) {
    const allowed = usesAllowed(request);
    if (!/^[0-9]{1,9}$/.test(maxUses) || Number(maxUses) < 1) {
      return {
        ok: false,
        problem: `spec.maxUses: ${JSON.stringify(maxUses.slice(0, MAX_TEXT))} is not a whole number of at least 1; leave it empty to grant every use the request asks for`,
      };
    }
    const uses = Number(maxUses);
    if (allowed === 1 && uses !== 1) {
      return { ok: false, problem: 'spec.maxUses: the request allows a single use; leave it empty' };
    }
    if (allowed !== undefined && uses > allowed) {
      return {
        ok: false,
        problem: `spec.maxUses: a grant can only narrow the request, which allows ${allowed} uses; give ${allowed} or less, or leave it empty`,
      };
    }
    narrowing.maxUses = uses;
  }
  return { ok: true, narrowing };
}

/** "once", "for 30m", "for 10m, at most 3 uses": what the grant allows. */
export function accessText(request: AccessRequest, narrowing: Narrowing = {}): string {
  const window = narrowing.validFor ?? request.spec.validFor;
  const uses = narrowing.maxUses ?? (request.spec as { maxUses?: number }).maxUses;
  if (!window) return uses && uses > 1 ? `${uses} uses` : 'once';
  return uses ? `for ${window}, at most ${uses} use${uses === 1 ? '' : 's'}` : `for ${window}`;
}
