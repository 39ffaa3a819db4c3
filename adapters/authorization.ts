// The two review APIs the server asks on its own behalf, as plain request bodies and answer
// readers shared by the Node backend (node:https, adapters/kubernetes/client.ts) and the edge one (fetch). No Node imports.
// - SubjectAccessReview: may this user do this? (who counts as an approver when deleting)
// - SelfSubjectReview: who am I? (the server's own deletions: consuming and cleanup)
import type { UserInfo } from '../functions/schemas.ts';
import type { ResourceAttributes } from '../functions/types.ts';

export const SUBJECT_ACCESS_REVIEWS_PATH = '/apis/authorization.k8s.io/v1/subjectaccessreviews';
export const SELF_SUBJECT_REVIEWS_PATH = '/apis/authentication.k8s.io/v1/selfsubjectreviews';

export function subjectAccessReview(user: UserInfo, attributes: ResourceAttributes) {
  return {
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SubjectAccessReview',
    spec: {
      user: user.username,
      ...(user.uid ? { uid: user.uid } : {}),
      groups: user.groups ?? [],
      ...(user.extra ? { extra: user.extra } : {}),
      resourceAttributes: { ...attributes },
    },
  };
}

/** Only an explicit `allowed: true` counts; anything else (no answer, denied, malformed) is no. */
export function isAllowedAnswer(answer: unknown): boolean {
  return (answer as { status?: { allowed?: unknown } } | undefined)?.status?.allowed === true;
}

export const selfSubjectReview = { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview', metadata: {} };

export function usernameOfSelfReview(answer: unknown): string | undefined {
  const name = (answer as { status?: { userInfo?: { username?: unknown } } } | undefined)?.status?.userInfo?.username;
  return typeof name === 'string' && name ? name : undefined;
}
