// CREATE/UPDATE/DELETE of AccessGrant: an approver, speaking for themselves, decides on someone
// else's existing request object (pinned by its uid), once; the decision is never changed;
// revoking is reviewed in functions/delete. Where an AccessPolicy names approvers, only they
// decide (on top of RBAC), and where it asks for N approvals, each approver counts once.
import * as v from 'valibot';
import { canonicalUsername, evaluateGrant, isSameUser } from '../access.ts';
import { approverProblem, brokenPolicy } from '../policy.ts';
import { isDeepStrictEqual } from '../equal.ts';
import { reviewDelete } from '../delete/index.ts';
import { reviewBreakGlassGrant, reviewReview } from './breakglass.ts';
import { breakGlassRules } from '../breakglass.ts';
import { AccessGrant, describeIssues } from '../schemas.ts';
import { allow, deny, type Concern } from '../types.ts';
import { narrowingProblem } from './scope.ts';

export const grant: Concern = async (admission, lookup, context) => {
  if (admission.operation === 'DELETE') return reviewDelete('AccessGrant', admission, lookup, context);
  const parsed = v.safeParse(AccessGrant, admission.object);
  if (!parsed.success) {
    return deny(`malformed AccessGrant: ${describeIssues(parsed.issues)}`, 400);
  }
  const accessGrant = parsed.output;

  if (admission.operation === 'UPDATE') {
    const old = v.safeParse(AccessGrant, admission.oldObject);
    if (
      !old.success ||
      !isDeepStrictEqual(old.output.spec, accessGrant.spec) ||
      old.output.status !== accessGrant.status
    ) {
      return deny(
        'an AccessGrant cannot be changed after creation; to revoke access, an approver deletes the AccessGrant',
      );
    }
    return allow('metadata-only update', {
      audit: [{ type: 'audit-updated', data: { request: admission, kind: 'AccessGrant', object: accessGrant } }],
    });
  }
  if (admission.operation !== 'CREATE') {
    return deny(`AccessGrant reviews must be CREATE, UPDATE or DELETE, got ${admission.operation}`, 400);
  }

  const prefix = context.config.usernamePrefix;
  const { username } = admission.userInfo;
  if (canonicalUsername(accessGrant.spec.grantedBy.username, prefix) !== username) {
    return deny(
      `spec.grantedBy.username must be you: it says "${accessGrant.spec.grantedBy.username}", authenticated as "${username}"`,
    );
  }

  const namespace = admission.namespace;
  const name = accessGrant.spec.grantFor;
  const uid = accessGrant.spec.grantForUID;
  if (!uid) {
    return deny(
      `spec.grantForUID is required: it pins the grant to the one AccessRequest object you reviewed, so a request re-created under the name "${name}" is never covered. ` +
        `Grant with: kubectl request grant -n ${namespace} ${name} (it fills it in), or set spec.grantForUID to the output of: kubectl get accessrequest -n ${namespace} ${name} -o jsonpath='{.metadata.uid}'`,
      400,
    );
  }
  const accessRequest = await lookup.accessRequest(namespace, name, { uid });
  if (!accessRequest || accessRequest.metadata.deletionTimestamp) {
    return deny(
      `spec.grantFor: there is no AccessRequest "${name}" in namespace ${namespace}; list pending ones with: kubectl request list -n ${namespace}`,
      404,
    );
  }
  if (uid !== accessRequest.metadata.uid) {
    return deny(
      `spec.grantForUID: AccessRequest "${name}" was re-created since you looked at it; review the new one with: kubectl request describe -n ${namespace} ${name}`,
      409,
    );
  }
  // Break-glass (the one self-grant there is) and its after-the-fact review have rules of their own.
  if (accessGrant.status === 'reviewed') return reviewReview(admission, accessGrant, accessRequest, lookup, context);
  if (accessGrant.spec.breakGlass) return reviewBreakGlassGrant(admission, accessGrant, accessRequest, lookup, context);
  if (isSameUser(accessRequest.spec.userInfo.username, username, prefix)) {
    // A member of a break-glass group learns the way out here, in an emergency.
    const member = breakGlassRules(namespace, await lookup.policiesFor(namespace)).some((rule) =>
      (admission.userInfo.groups ?? []).some((group) => rule.groups.includes(group)),
    );
    const glass =
      member && accessGrant.status === 'granted'
        ? `; in an emergency you may break glass: kubectl request grant -n ${namespace} ${name} --break-glass --reason "..." (audited, and reviewed later)`
        : '';
    return deny(
      `you cannot ${accessGrant.status === 'denied' ? 'decide on' : 'grant'} your own AccessRequest "${name}"; another approver has to${glass}`,
    );
  }
  const narrowing = narrowingProblem(accessRequest, accessGrant);
  if (narrowing) return deny(narrowing);
  const policies = await lookup.policiesFor(namespace);
  const broken = brokenPolicy(namespace, policies);
  if (broken) return deny(broken);
  const notApprover = approverProblem(admission.userInfo, namespace, policies, prefix);
  if (notApprover) return deny(notApprover);
  const audit = [{ type: 'audit-granted' as const, data: { request: admission, accessRequest, accessGrant } }];
  const current = evaluateGrant(accessRequest, await lookup.grantsFor(namespace, name), context.now, prefix, policies);
  // Pre-approved by a policy or granted by the requester's break-glass: no approver decided yet,
  // so an approver may still stop it (a denial wins, and the requester cannot break glass again).
  if (current.state === 'granted' && (current.policy || current.breakGlass) && accessGrant.status === 'denied') {
    return allow('', { audit });
  }
  if (current.state === 'granted' && current.policy) {
    return deny(`AccessRequest "${name}" is pre-approved by AccessPolicy ${current.policy}: it needs no grant`, 409);
  }
  if (
    current.state === 'granted' ||
    current.state === 'denied' ||
    current.state === 'expired' ||
    current.state === 'used'
  ) {
    const by =
      current.state === 'granted'
        ? current.grants.map((g) => g.spec.grantedBy.username).join(' and ')
        : current.grant.spec.grantedBy.username;
    return deny(
      `AccessRequest "${name}" was already ${current.state === 'denied' ? 'denied' : 'granted'} by ${by}; a decision cannot be changed`,
      409,
    );
  }
  if (current.state === 'pending' && accessGrant.status === 'granted') {
    if (current.approvedBy.includes(username)) {
      return deny(
        `you already granted AccessRequest "${name}" (${current.approvals} of ${current.required} approvals): an approver counts once; another approver has to grant it`,
        409,
      );
    }
    const after = current.approvals + 1;
    if (after < current.required) {
      return allow('', {
        audit,
        warnings: [
          `AccessRequest ${name} now has ${after} of ${current.required} approvals; it needs ${current.required - after} more from other approvers`,
        ],
      });
    }
  }
  return allow('', { audit });
};
