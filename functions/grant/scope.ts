// What an approver may change when granting: narrow the request (a shorter window, fewer uses),
// never widen it. A widening the webhook let through would still be cut back by evaluateGrant,
// which takes the narrowest of the request and its approvals; refusing it says so to the approver.
import { validForMs } from '../access.ts';
import { parseDuration } from '../duration.ts';
import type { AccessGrant, AccessRequest } from '../schemas.ts';

/** Why `grant` does not narrow `request` (a field path and what is allowed), or undefined. */
export function narrowingProblem(request: AccessRequest, grant: AccessGrant): string | undefined {
  const { validFor, maxUses } = grant.spec;
  if (!validFor && maxUses === undefined) return undefined;
  const name = request.metadata.name;
  if (grant.status !== 'granted')
    return 'spec.validFor and spec.maxUses narrow a grant; a denial carries neither: leave them out';
  const window = validForMs(request);
  if (validFor) {
    if (window === undefined)
      return `spec.validFor: AccessRequest ${name} is one-shot (no validFor), and a window cannot be added to it; leave spec.validFor out, or narrow with spec.maxUses only on a time-bound request`;
    const narrowed = parseDuration(validFor);
    if (narrowed === undefined || narrowed <= 0)
      return `spec.validFor "${validFor}" is not a positive Go duration; give one such as 10m, at most the request's ${request.spec.validFor}`;
    if (Number.isNaN(window) || narrowed > window)
      return `spec.validFor "${validFor}" is longer than AccessRequest ${name} asks for (${request.spec.validFor}): an approver may only shorten it; give at most ${request.spec.validFor}, or leave it out`;
  }
  if (maxUses !== undefined) {
    const allowed = request.spec.maxUses ?? (window === undefined ? 1 : undefined);
    if (allowed === 1) return `spec.maxUses: AccessRequest ${name} allows a single use already; leave spec.maxUses out`;
    if (allowed !== undefined && maxUses > allowed)
      return `spec.maxUses ${maxUses} is more than AccessRequest ${name} asks for (${allowed}): an approver may only lower it; give at most ${allowed}, or leave it out`;
  }
  return undefined;
}
