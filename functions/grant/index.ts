// CREATE/UPDATE/DELETE of AccessGrant: an approver, speaking for themselves, decides on someone
// else's existing request object (pinned by its uid), once; the decision is never changed;
// revoking is reviewed in functions/delete.
import * as v from 'valibot';
import { canonicalUsername, evaluateGrant, isSameUser } from '../access.ts';
import { isDeepStrictEqual } from '../equal.ts';
import { reviewDelete } from '../delete/index.ts';
import { AccessGrant, describeIssues } from '../schemas.ts';
import { allow, deny, type Concern } from '../types.ts';

export const grant: Concern = async (admission, lookup, context) => {
  if (admission.operation === 'DELETE') return reviewDelete('AccessGrant', admission, lookup, context);
  const parsed = v.safeParse(AccessGrant, admission.object);
  if (!parsed.success) {
    return deny(`malformed AccessGrant: ${describeIssues(parsed.issues)}`, 400);
  }
  const accessGrant = parsed.output;

  if (admission.operation === 'UPDATE') {
    const old = v.safeParse(AccessGrant, admission.oldObject);
    if (!old.success || !isDeepStrictEqual(old.output.spec, accessGrant.spec) || old.output.status !== accessGrant.status) {
      return deny('an AccessGrant cannot be changed after creation; to revoke access, an approver deletes the AccessGrant');
    }
    return allow('metadata-only update', { audit: [{ type: 'audit-updated', data: { request: admission, kind: 'AccessGrant', object: accessGrant } }] });
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
    return deny(`spec.grantFor: there is no AccessRequest "${name}" in namespace ${namespace}; list pending ones with: kubectl request list -n ${namespace}`, 404);
  }
  if (uid !== accessRequest.metadata.uid) {
    return deny(`spec.grantForUID: AccessRequest "${name}" was re-created since you looked at it; review the new one with: kubectl request describe -n ${namespace} ${name}`, 409);
  }
  if (isSameUser(accessRequest.spec.userInfo.username, username, prefix)) {
    return deny(`you cannot ${accessGrant.status === 'denied' ? 'decide on' : 'grant'} your own AccessRequest "${name}"; another approver has to`);
  }
  const current = evaluateGrant(accessRequest, await lookup.grantsFor(namespace, name), context.now, prefix);
  if (current.state === 'granted' || current.state === 'denied' || current.state === 'expired' || current.state === 'used') {
    return deny(
      `AccessRequest "${name}" was already ${current.state === 'denied' ? 'denied' : 'granted'} by ${current.grant.spec.grantedBy.username}; a decision cannot be changed`,
      409,
    );
  }
  return allow('', {
    audit: [{ type: 'audit-granted', data: { request: admission, accessRequest, accessGrant } }],
  });
};
