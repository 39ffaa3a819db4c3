// Objects and AdmissionReviews shared by the edge tests: built from tests/fixtures/exec-review.json,
// each review paired with the verdict the policy must reach (the Node app must agree with it too).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures');
export const EXEC_REVIEW = JSON.parse(readFileSync(path.join(FIXTURES, 'exec-review.json'), 'utf8')) as {
  apiVersion: string;
  kind: string;
  request: Record<string, unknown> & { object: Record<string, unknown>; userInfo: Record<string, unknown> };
};

export const NS = 'team-a';

export function accessRequest(
  name: string,
  user: string,
  pod: string,
  options: { command?: string[]; validFor?: string; namespace?: string } = {},
) {
  const namespace = options.namespace ?? NS;
  return {
    apiVersion: 'kube-request-access.io/v1',
    kind: 'AccessRequest',
    metadata: { name, namespace },
    spec: {
      userInfo: { username: user },
      forObject: {
        resource: { group: '', version: 'v1', resource: 'pods' },
        subResource: 'exec',
        name: pod,
        namespace,
      },
      validFor: options.validFor ?? '',
      execOptions: { container: 'app', command: options.command ?? [], stdout: true, stderr: true },
    },
  };
}

export function accessGrant(name: string, by: string, status: 'granted' | 'denied', namespace = NS) {
  return {
    apiVersion: 'kube-request-access.io/v1',
    kind: 'AccessGrant',
    metadata: { name, namespace },
    spec: { grantFor: name, grantedBy: { username: by } },
    status,
  };
}

/** What the cluster holds for the verdict tests (created once, never consumed: no one-shot among them). */
export const OBJECTS = [
  accessRequest('alice-web-1', 'alice', 'web-1', { command: ['cat', '/app/config'], validFor: '1h' }),
  accessGrant('alice-web-1', 'carol', 'granted'),
  accessRequest('alice-web-2', 'alice', 'web-2', { command: ['ls'], validFor: '1h' }),
  accessGrant('alice-web-2', 'carol', 'denied'),
  accessRequest('alice-web-3', 'alice', 'web-3', { command: ['ls'], validFor: '1h' }),
  accessRequest('bob-web-1', 'bob', 'web-1', { validFor: '1h' }),
  accessGrant('bob-web-1', 'carol', 'granted'),
  accessRequest('alice-web-1', 'alice', 'web-1', { command: ['sh'], validFor: '1h', namespace: 'team-b' }),
  // A one-shot that only dry runs touch: it must still exist at the end.
  accessRequest('alice-dry', 'alice', 'web-5', { command: ['date'] }),
  accessGrant('alice-dry', 'carol', 'granted'),
];

const USERS: Record<string, string[]> = {
  alice: ['developers', 'system:authenticated'],
  bob: ['developers', 'system:authenticated'],
  carol: ['approvers', 'system:authenticated'],
  dave: ['system:authenticated'],
  admin: ['system:masters', 'system:authenticated'],
};

export function execReview(
  uid: string,
  user: string,
  pod: string,
  command: string[],
  options: { namespace?: string; tty?: boolean; stdin?: boolean; dryRun?: boolean } = {},
) {
  const review = structuredClone(EXEC_REVIEW);
  Object.assign(review.request, {
    uid,
    name: pod,
    namespace: options.namespace ?? NS,
    userInfo: { username: user, uid: user, groups: USERS[user] ?? [] },
    dryRun: options.dryRun ?? false,
  });
  Object.assign(review.request.object, {
    command,
    ...(options.tty ? { tty: true } : {}),
    ...(options.stdin ? { stdin: true } : {}),
  });
  return review;
}

function objectReview(
  uid: string,
  user: string,
  resource: 'accessrequests' | 'accessgrants',
  object: { metadata: { name: string; namespace: string } },
) {
  const kind = resource === 'accessrequests' ? 'AccessRequest' : 'AccessGrant';
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: 'kube-request-access.io', version: 'v1', kind },
      resource: { group: 'kube-request-access.io', version: 'v1', resource },
      name: object.metadata.name,
      namespace: object.metadata.namespace,
      operation: 'CREATE',
      userInfo: { username: user, uid: user, groups: USERS[user] ?? [] },
      object,
      oldObject: null,
      dryRun: false,
    },
  };
}

export interface Case {
  name: string;
  review: unknown;
  /** The verdict the policy must reach; every runtime must also answer exactly as the Node app does. */
  allowed: boolean;
}

export const CASES: Case[] = [
  {
    name: 'allows the granted command within the window',
    review: execReview('u-01', 'alice', 'web-1', ['cat', '/app/config']),
    allowed: true,
  },
  { name: 'denies another command', review: execReview('u-02', 'alice', 'web-1', ['sh']), allowed: false },
  {
    name: 'denies a tty',
    review: execReview('u-03', 'alice', 'web-1', ['cat', '/app/config'], { tty: true, stdin: true }),
    allowed: false,
  },
  {
    name: 'denies a request whose grant says denied',
    review: execReview('u-04', 'alice', 'web-2', ['ls']),
    allowed: false,
  },
  { name: 'denies a request nobody granted', review: execReview('u-05', 'alice', 'web-3', ['ls']), allowed: false },
  {
    name: 'denies a user without a request',
    review: execReview('u-06', 'dave', 'web-1', ['cat', '/app/config']),
    allowed: false,
  },
  { name: 'allows an always-allowed group', review: execReview('u-07', 'admin', 'web-9', ['sh']), allowed: true },
  {
    name: 'denies a request of another namespace',
    review: execReview('u-08', 'alice', 'web-1', ['cat', '/app/config'], { namespace: 'team-b' }),
    allowed: false,
  },
  {
    name: "allows any command under bob's commandless request",
    review: execReview('u-09', 'bob', 'web-1', ['sh', '-c', 'id']),
    allowed: true,
  },
  {
    name: "denies alice under bob's request",
    review: execReview('u-10', 'alice', 'web-1', ['sh', '-c', 'id']),
    allowed: false,
  },
  {
    name: 'allows a dry run of a one-shot without using it up',
    review: execReview('u-11', 'alice', 'web-5', ['date'], { dryRun: true }),
    allowed: true,
  },
  {
    name: 'allows an AccessRequest for oneself',
    review: objectReview(
      'u-12',
      'alice',
      'accessrequests',
      accessRequest('new-one', 'alice', 'web-1', { command: ['ls'] }),
    ),
    allowed: true,
  },
  {
    name: 'denies an AccessRequest for someone else',
    review: objectReview(
      'u-13',
      'alice',
      'accessrequests',
      accessRequest('new-two', 'bob', 'web-1', { command: ['ls'] }),
    ),
    allowed: false,
  },
  {
    name: 'allows an approver to grant',
    review: objectReview('u-14', 'carol', 'accessgrants', accessGrant('alice-web-3', 'carol', 'granted')),
    allowed: true,
  },
  {
    name: "denies granting one's own request",
    review: objectReview('u-15', 'alice', 'accessgrants', accessGrant('alice-web-3', 'alice', 'granted')),
    allowed: false,
  },
  {
    name: 'denies a grant for a request that does not exist',
    review: objectReview('u-16', 'carol', 'accessgrants', accessGrant('nothing-here', 'carol', 'granted')),
    allowed: false,
  },
  {
    name: 'denies a malformed review, echoing its uid',
    review: {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: { uid: 'u-17', operation: 'CONNECT' },
    },
    allowed: false,
  },
];
