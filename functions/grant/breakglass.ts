// The two AccessGrants of break-glass, reviewed on CREATE after functions/grant has checked the
// grantor, the request object and its uid: the requester's own break-glass grant (a member of a
// policy's break-glass group, with a reason, within the window), and the after-the-fact review
// by another approver (status `reviewed`, which never counts as an approval).
import { evaluateGrant, isSameUser } from '../access.ts';
import { breakGlassVerdict, reviewState } from '../breakglass.ts';
import { approverProblem, brokenPolicy } from '../policy.ts';
import type { AccessGrant, AccessRequest, AdmissionRequest } from '../schemas.ts';
import { allow, deny, type Context, type Decision, type Lookup } from '../types.ts';

export async function reviewBreakGlassGrant(
  admission: AdmissionRequest,
  accessGrant: AccessGrant,
  accessRequest: AccessRequest,
  lookup: Lookup,
  context: Context,
): Promise<Decision> {
  const prefix = context.config.usernamePrefix;
  const { namespace, name } = accessRequest.metadata;
  if (accessGrant.status !== 'granted') {
    return deny(`spec.breakGlass: a break-glass grant has status granted, not ${accessGrant.status}`, 400);
  }
  if (!isSameUser(accessRequest.spec.userInfo.username, admission.userInfo.username, prefix)) {
    return deny(
      `spec.breakGlass: break-glass is for your own AccessRequest only, and "${name}" is ${accessRequest.spec.userInfo.username}'s; grant it without spec.breakGlass: kubectl request grant -n ${namespace} ${name}`,
    );
  }
  // Spelled as the request spells its user: readers that do not know --username-prefix (the
  // plugin's --needs-review, the page) recognise a self-grant by equal names.
  if (accessGrant.spec.grantedBy.username !== accessRequest.spec.userInfo.username) {
    return deny(
      `spec.grantedBy.username: a break-glass grant names you as the request does ("${accessRequest.spec.userInfo.username}"), got "${accessGrant.spec.grantedBy.username}"`,
      400,
    );
  }
  const policies = await lookup.policiesFor(namespace);
  const verdict = breakGlassVerdict(accessRequest, accessGrant, policies, admission.userInfo);
  if ('problem' in verdict) return deny(verdict.problem);
  const current = evaluateGrant(
    accessRequest,
    await lookup.grantsFor(namespace, name),
    context.now,
    prefix,
    policies,
    admission.userInfo,
  );
  switch (current.state) {
    case 'denied':
      return deny(
        `AccessRequest "${name}" was denied by ${current.grant.spec.grantedBy.username}; break-glass does not overturn a denial, request again`,
        409,
      );
    case 'granted':
      return current.policy
        ? deny(`AccessRequest "${name}" is pre-approved by AccessPolicy ${current.policy}: it needs no grant`, 409)
        : deny(`AccessRequest "${name}" was already granted; a decision cannot be changed`, 409);
    case 'used':
    case 'expired':
      return deny(`AccessRequest "${name}" was already granted; a decision cannot be changed`, 409);
    case 'invalid':
      // An earlier break-glass grant that no longer counts is no reason to refuse a valid one.
      if (!/break-glass AccessGrant/.test(current.reason))
        return deny(`AccessRequest "${name}" cannot be granted: ${current.reason}`);
      break;
    case 'pending':
      break;
  }
  const data = { request: admission, accessRequest, accessGrant };
  return allow('', {
    audit: [
      { type: 'audit-granted', data },
      { type: 'audit-break-glass', data: { ...data, phase: 'granted', policy: verdict.policy } },
    ],
    warnings: [
      `break-glass: you granted your own AccessRequest ${name} under AccessPolicy ${verdict.policy}; it is audited, and listed by kubectl request list --needs-review until another approver runs: kubectl request review -n ${namespace} ${name}`,
    ],
  });
}

export async function reviewReview(
  admission: AdmissionRequest,
  accessGrant: AccessGrant,
  accessRequest: AccessRequest,
  lookup: Lookup,
  context: Context,
): Promise<Decision> {
  const prefix = context.config.usernamePrefix;
  const { namespace, name } = accessRequest.metadata;
  if (accessGrant.spec.breakGlass) {
    return deny('spec.breakGlass: a review (status reviewed) is no break-glass grant; leave spec.breakGlass out', 400);
  }
  if (isSameUser(accessRequest.spec.userInfo.username, admission.userInfo.username, prefix)) {
    return deny(
      `you cannot review your own break-glass AccessRequest "${name}"; another approver has to: kubectl request review -n ${namespace} ${name}`,
    );
  }
  const policies = await lookup.policiesFor(namespace);
  const broken = brokenPolicy(namespace, policies);
  if (broken) return deny(broken);
  const notApprover = approverProblem(admission.userInfo, namespace, policies, prefix);
  if (notApprover) return deny(notApprover);
  const state = reviewState(accessRequest, await lookup.grantsFor(namespace, name), prefix);
  if (!state) {
    return deny(
      `AccessRequest "${name}" was not granted by break-glass, so there is nothing to review; list those that need a review with: kubectl request list --needs-review`,
      409,
    );
  }
  if (state.reviewedBy) {
    return deny(
      `AccessRequest "${name}" was already reviewed by ${state.reviewedBy.spec.grantedBy.username}; a review is made once`,
      409,
    );
  }
  return allow('', {
    audit: [
      {
        type: 'audit-reviewed',
        data: { request: admission, accessRequest, accessGrant, breakGlass: state.breakGlass },
      },
    ],
  });
}

/**
 * Why the requester may not delete this (their break-glass request, or their break-glass grant
 * of it) yet: nobody reviewed it, and deleting it would take the break-glass out of
 * `kubectl request list --needs-review` (the audit log keeps it either way). Others (approvers,
 * admins, cleanup) are not stopped here.
 */
export async function unreviewedBreakGlassDeletion(
  kind: 'AccessRequest' | 'AccessGrant',
  object: AccessRequest | AccessGrant | undefined,
  admission: AdmissionRequest,
  lookup: Lookup,
  prefix: string,
): Promise<string | undefined> {
  if (!object) return undefined;
  const { namespace } = admission;
  let request: AccessRequest | undefined;
  if (kind === 'AccessRequest') {
    request = object as AccessRequest;
  } else {
    const grant = object as AccessGrant;
    if (!grant.spec.breakGlass || !grant.spec.grantForUID) return undefined;
    request = await lookup.accessRequest(namespace, grant.spec.grantFor, { uid: grant.spec.grantForUID });
    if (!request || request.metadata.uid !== grant.spec.grantForUID) return undefined;
  }
  if (!isSameUser(request.spec.userInfo.username, admission.userInfo.username, prefix)) return undefined;
  const state = reviewState(request, await lookup.grantsFor(namespace, request.metadata.name), prefix);
  if (!state || state.reviewedBy) return undefined;
  return `AccessRequest ${request.metadata.name} was granted by your break-glass and nobody reviewed it yet, so you cannot delete it or its grant: another approver reviews it first (kubectl request review -n ${namespace} ${request.metadata.name}); to end the access now, ask an approver to revoke it`;
}
