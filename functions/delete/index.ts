// DELETE of AccessRequests and AccessGrants: removing either changes who can do what, so it is
// reviewed like creating them. The requester withdraws their own request; approvers (whoever may
// create AccessGrants in the namespace) and always-allowed admins revoke requests and grants; the
// webhook itself consumes and cleans up; the kube controllers delete on namespace removal and
// garbage collection. A denial stands on its request: only an admin, cleanup or the cluster
// removes it, so a requester cannot turn "denied" back into "pending" and ask someone else for the
// same request. They can create a new request (which the denial does not bind), and approvers see it
// as a new request; the audit trail keeps the denial.
import * as v from 'valibot';
import { isAlwaysAllowed, isSameUser } from '../access.ts';
import { AccessGrant, AccessRequest, GROUP, type AdmissionRequest } from '../schemas.ts';
import { unreviewedBreakGlassDeletion } from '../grant/breakglass.ts';
import { allow, CLUSTER_DELETERS, deny, type Context, type Decision, type DeleterRole, type Lookup } from '../types.ts';

type Kind = 'AccessRequest' | 'AccessGrant';

export async function reviewDelete(
  kind: Kind,
  admission: AdmissionRequest,
  lookup: Lookup,
  context: Context,
): Promise<Decision> {
  const { username } = admission.userInfo;
  const { namespace, name } = admission;
  const parsed =
    kind === 'AccessRequest'
      ? v.safeParse(AccessRequest, admission.oldObject)
      : v.safeParse(AccessGrant, admission.oldObject);
  const object = parsed.success ? parsed.output : undefined;
  const allowAs = (role: DeleterRole, message: string): Decision =>
    // Audited also for a malformed object: who deleted what is recorded either way.
    allow(message, {
      audit: [{ type: 'audit-deleted', data: { request: admission, kind, ...(object ? { object } : {}), role } }],
    });

  if (context.config.selfUsernames.includes(username)) return allowAs('webhook', 'deleted by kube-request-access');
  if (CLUSTER_DELETERS.includes(username)) return allowAs('cluster', 'deleted by the cluster');
  if (isAlwaysAllowed(admission.userInfo, context.config))
    return allowAs('admin', 'deleted by an always-allowed admin');

  const prefix = context.config.usernamePrefix;
  if (kind === 'AccessGrant' && object && (object as AccessGrant).status === 'denied') {
    return deny(
      `AccessGrant ${name} denies AccessRequest ${(object as AccessGrant).spec.grantFor}, and a denial stands: only an admin can remove it. To ask again, create a new request with kubectl request`,
    );
  }
  const unreviewed = await unreviewedBreakGlassDeletion(kind, object, admission, lookup, prefix);
  if (unreviewed) return deny(unreviewed);
  if (
    kind === 'AccessRequest' &&
    object &&
    isSameUser((object as AccessRequest).spec.userInfo.username, username, prefix)
  ) {
    return allowAs('requester', 'withdrawn by its requester');
  }
  const approver = await lookup.isAuthorized(admission.userInfo, {
    verb: 'create',
    group: GROUP,
    resource: 'accessgrants',
    namespace,
  });
  if (approver)
    return allowAs('approver', kind === 'AccessGrant' ? 'revoked by an approver' : 'withdrawn by an approver');

  if (kind === 'AccessRequest') {
    const owner = object ? (object as AccessRequest).spec.userInfo.username : 'someone else';
    return deny(
      `you can only withdraw your own AccessRequests, and ${name} belongs to ${owner}; an approver in namespace ${namespace} or an admin can revoke it`,
    );
  }
  return deny(
    `only approvers (who may create AccessGrants in namespace ${namespace}) and admins can revoke AccessGrant ${name}; ask one to run: kubectl delete accessgrant -n ${namespace} ${name}`,
  );
}
