// CREATE/UPDATE/DELETE of AccessRequest: only for yourself, a bounded window, a consistent target
// in a namespace the exec webhook gates, non-interactive, approved by the extended validator, and
// never changed afterwards; withdrawing is reviewed in functions/delete.
import * as v from 'valibot';
import { isAlwaysAllowed, isSameUser } from '../access.ts';
import { formatDuration, parseDuration } from '../duration.ts';
import { AccessRequest, CREATED_BY_ANNOTATION, describeIssues } from '../schemas.ts';
import { allow, deny, type Concern, type Decision } from '../types.ts';
import { isDeepStrictEqual } from '../equal.ts';
import { reviewDelete } from '../delete/index.ts';
import { kindOf, requestProblem, SUBRESOURCES } from '../kinds.ts';
import { requestLimitProblem } from '../policy.ts';

export const request: Concern = async (admission, lookup, context) => {
  if (admission.operation === 'DELETE') return reviewDelete('AccessRequest', admission, lookup, context);
  const parsed = v.safeParse(AccessRequest, admission.object);
  if (!parsed.success) {
    return deny(`malformed AccessRequest: ${describeIssues(parsed.issues)}`, 400);
  }
  const accessRequest = parsed.output;

  if (admission.operation === 'UPDATE') {
    const old = v.safeParse(AccessRequest, admission.oldObject);
    if (!old.success || !isDeepStrictEqual(old.output.spec, accessRequest.spec)) {
      return deny('an AccessRequest cannot be changed after creation; delete it and create a new one');
    }
    return allow('metadata-only update', {
      audit: [{ type: 'audit-updated', data: { request: admission, kind: 'AccessRequest', object: accessRequest } }],
    });
  }
  if (admission.operation !== 'CREATE') {
    return deny(`AccessRequest reviews must be CREATE, UPDATE or DELETE, got ${admission.operation}`, 400);
  }

  if (context.config.ungatedNamespaces.includes(admission.namespace)) {
    return deny(
      `exec in ${admission.namespace} is not gated by kube-request-access, so no access can be granted there; ask a cluster admin`,
    );
  }
  const problem = checkSpec(admission.namespace, accessRequest, context.config.maxValidForMs);
  if (problem) return problem;

  const { username } = admission.userInfo;
  const requestedFor = accessRequest.spec.userInfo.username;
  if (
    !isSameUser(requestedFor, username, context.config.usernamePrefix) &&
    !isAlwaysAllowed(admission.userInfo, context.config)
  ) {
    return deny(
      `you can only request access for yourself (requested for "${requestedFor}", authenticated as "${username}"); set spec.userInfo.username to "${username}"`,
    );
  }

  // The record of who made a request on someone's behalf is only worth something if nobody can forge it.
  const creator = accessRequest.metadata.annotations?.[CREATED_BY_ANNOTATION];
  if (creator !== undefined && !isSameUser(creator, username, context.config.usernamePrefix)) {
    return deny(
      `metadata.annotations["${CREATED_BY_ANNOTATION}"]: must name who creates the request ("${username}"), got "${creator}"; leave it out or set it to "${username}"`,
      403,
    );
  }

  // The AccessPolicies of the namespace: limits and required fields, before an approver sees it.
  const limit = requestLimitProblem(
    { ...accessRequest, metadata: { ...accessRequest.metadata, namespace: admission.namespace } },
    kindOf(accessRequest.spec)!.name,
    await lookup.policiesFor(admission.namespace),
  );
  if (limit) return deny(limit, 403);

  // A request pinned to a pod object that is not the pod of that name now could never be used:
  // say so before an approver spends time on it (the exec review checks the pin again).
  const pinned = accessRequest.spec.forObject.uid;
  if (pinned) {
    const { namespace: podNamespace, name: pod } = accessRequest.spec.forObject;
    const uid = await lookup.podUID(podNamespace, pod);
    if (uid !== pinned) {
      return deny(
        `spec.forObject.uid: the request is pinned to uid ${pinned}, but ${
          uid
            ? `pod ${podNamespace}/${pod} now has uid ${uid} (it was re-created)`
            : `there is no pod ${podNamespace}/${pod}`
        }; request again with --pin, which reads the pod's uid as it is now`,
        400,
      );
    }
  }

  const audit = [{ type: 'audit-created' as const, data: { request: admission, accessRequest } }];
  // Nothing of a dry run leaves the process: the validation webhook may record what it is shown.
  if (admission.dryRun) {
    return allow('', {
      audit,
      warnings: ['dry run: the extended validation webhook was not asked; the real request may still be refused by it'],
    });
  }
  const validation = await context.validator.validateAccessRequest({ request: admission, accessRequest });
  if (validation.status !== 'valid') {
    return deny(`the AccessRequest was rejected by the validation webhook: ${validation.message || 'no reason given'}`);
  }
  return allow('', { audit });
};

function checkSpec(namespace: string, accessRequest: AccessRequest, maxValidForMs: number): Decision | undefined {
  const { spec } = accessRequest;
  const target = spec.forObject;
  if (
    target.resource.resource !== 'pods' ||
    target.resource.group ||
    (target.resource.version && target.resource.version !== 'v1')
  ) {
    return deny(
      `spec.forObject.resource: only core/v1 pods can be requested, got "${[target.resource.group, target.resource.version, target.resource.resource].join('/')}"`,
      400,
    );
  }
  // Each kind of access (functions/kinds.ts) has its own rule for what may be requested.
  const kind = kindOf(spec);
  if (!kind) {
    return deny(
      `spec.forObject.subResource: "${target.subResource}" cannot be requested; use one of ${SUBRESOURCES.join(', ')}`,
      400,
    );
  }
  if (target.namespace !== namespace) {
    return deny(
      `spec.forObject.namespace: must be the AccessRequest's own namespace "${namespace}", got "${target.namespace}"; create the request in namespace ${target.namespace} instead`,
      400,
    );
  }
  const ruleProblem = requestProblem(kind, spec);
  if (ruleProblem) return deny(ruleProblem, 403);
  if (spec.validFor) {
    const ms = parseDuration(spec.validFor);
    if (ms === undefined || ms <= 0) {
      return deny(
        `spec.validFor: "${spec.validFor}" is not a positive duration; use a value like 30m or 2h, or leave it empty for a single use`,
        400,
      );
    }
    if (ms > maxValidForMs) {
      return deny(
        `spec.validFor: at most ${formatDuration(maxValidForMs)} is allowed, requested ${spec.validFor}; ask for a shorter window`,
        400,
      );
    }
  }
  return undefined;
}

/**
 * UPDATE of an AccessRequest's status: kube-request-access alone counts a request's uses (and
 * gives one back), and merge-patches its state and conditions (functions/status; a PATCH is an
 * UPDATE to admission). Anyone else writing it could make a used request usable again; RBAC gives
 * no one else accessrequests/status, and this holds even where RBAC is looser.
 * Allowed without an audit event: the status only restates what was audited when it happened (the
 * grant, the exec that used it, the denial); the window's end is in the audit-granted event. One
 * audit line per status write would double the log and say nothing new; the request log still has
 * a `review` line for each.
 */
export const requestStatus: Concern = async (admission, _lookup, context) => {
  const { username } = admission.userInfo;
  if (context.config.selfUsernames.includes(username) || isAlwaysAllowed(admission.userInfo, context.config)) {
    return allow('status written by kube-request-access');
  }
  return deny(
    `the status of an AccessRequest is written by kube-request-access only, not by ${username}; to withdraw a request, delete it`,
  );
};
