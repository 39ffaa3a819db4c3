// What the benchmark feeds the cluster and what it sends the webhook: AccessRequests with their
// AccessGrants, and the three AdmissionReviews (exec allowed, exec denied, AccessRequest create).

export const NAMESPACE = 'bench';
/** The pod every measured exec review targets; it also exists in the cluster for the end-to-end run. */
export const TARGET_POD = 'web-0';
export const TARGET_CONTAINER = 'app';
export const TARGET_COMMAND = ['cat', '/etc/hostname'];
export const API_VERSION = 'kube-request-access.io/v1';

/** Filler users and pods: requests spread over them, so an index bucket holds a few requests at most. */
const USERS = 100;
const PODS = 1000;

function exec(pod: string, user: string, command: string[], validFor: string) {
  return {
    userInfo: { username: user },
    forObject: {
      resource: { group: '', version: 'v1', resource: 'pods' },
      subResource: 'exec',
      name: pod,
      namespace: NAMESPACE,
    },
    ...(validFor ? { validFor } : {}),
    execOptions: { stdout: true, stderr: true, container: TARGET_CONTAINER, command },
  };
}

export function accessRequest(i: number): object {
  // Object 0 is alice's time-bound request for the measured exec: allowed, and never used up.
  if (i === 0) {
    return {
      apiVersion: API_VERSION,
      kind: 'AccessRequest',
      metadata: { name: requestName(0), namespace: NAMESPACE },
      spec: exec(TARGET_POD, 'alice', TARGET_COMMAND, '12h'),
    };
  }
  return {
    apiVersion: API_VERSION,
    kind: 'AccessRequest',
    metadata: { name: requestName(i), namespace: NAMESPACE, labels: { 'bench.kube-request-access.io/filler': 'true' } },
    spec: exec(`pod-${i % PODS}`, `user-${i % USERS}`, ['sh', '-c', `echo ${i}`], i % 10 === 0 ? '' : '12h'),
  };
}

/** The grant of request `i`, bound to that request object's uid (a grant without one covers nothing). */
export function accessGrant(i: number, requestUid: string): object {
  return {
    apiVersion: API_VERSION,
    kind: 'AccessGrant',
    metadata: { name: requestName(i), namespace: NAMESPACE },
    spec: { grantFor: requestName(i), grantForUID: requestUid, grantedBy: { username: 'carol' } },
    status: i !== 0 && i % 10 === 5 ? 'denied' : 'granted',
  };
}

export function requestName(i: number): string {
  return `r-${String(i).padStart(6, '0')}`;
}

const admission = {
  kind: { group: '', version: 'v1', kind: 'PodExecOptions' },
  resource: { group: '', version: 'v1', resource: 'pods' },
  subResource: 'exec',
  requestKind: { group: '', version: 'v1', kind: 'PodExecOptions' },
  requestResource: { group: '', version: 'v1', resource: 'pods' },
  requestSubResource: 'exec',
  name: TARGET_POD,
  namespace: NAMESPACE,
  operation: 'CONNECT',
};

function execReview(uid: string, user: string): object {
  return {
    kind: 'AdmissionReview',
    apiVersion: 'admission.k8s.io/v1',
    request: {
      uid,
      ...admission,
      userInfo: { username: user, uid: user, groups: ['developers', 'system:authenticated'] },
      object: {
        kind: 'PodExecOptions',
        apiVersion: 'v1',
        stdout: true,
        stderr: true,
        container: TARGET_CONTAINER,
        command: TARGET_COMMAND,
      },
      oldObject: null,
      dryRun: false,
      options: null,
    },
  };
}

function createReview(uid: string): object {
  return {
    kind: 'AdmissionReview',
    apiVersion: 'admission.k8s.io/v1',
    request: {
      uid,
      kind: { group: 'kube-request-access.io', version: 'v1', kind: 'AccessRequest' },
      resource: { group: 'kube-request-access.io', version: 'v1', resource: 'accessrequests' },
      requestKind: { group: 'kube-request-access.io', version: 'v1', kind: 'AccessRequest' },
      requestResource: { group: 'kube-request-access.io', version: 'v1', resource: 'accessrequests' },
      name: 'alice-web-0-x7k2p',
      namespace: NAMESPACE,
      operation: 'CREATE',
      userInfo: { username: 'alice', uid: 'alice', groups: ['developers', 'system:authenticated'] },
      object: {
        apiVersion: API_VERSION,
        kind: 'AccessRequest',
        metadata: {
          name: 'alice-web-0-x7k2p',
          namespace: NAMESPACE,
          uid: '3c1b1e4e-8a51-4c8e-9f0e-6f3a7a2f9d10',
          creationTimestamp: '2026-11-28T09:00:00Z',
          generation: 1,
        },
        spec: exec(TARGET_POD, 'alice', TARGET_COMMAND, '1h'),
      },
      oldObject: null,
      dryRun: false,
      options: { kind: 'CreateOptions', apiVersion: 'meta.k8s.io/v1' },
    },
  };
}

export type Scenario = 'exec allowed' | 'exec denied' | 'AccessRequest create';
export const SCENARIOS: readonly Scenario[] = ['exec allowed', 'exec denied', 'AccessRequest create'];

/** The AdmissionReview of a scenario and the verdict the webhook must give it. */
export function review(scenario: Scenario): { body: string; allowed: boolean } {
  switch (scenario) {
    case 'exec allowed':
      return { body: JSON.stringify(execReview('b3a1c0de-0000-4000-8000-000000000001', 'alice')), allowed: true };
    case 'exec denied':
      // bob has no AccessRequest for this pod: the lookup runs and finds nothing.
      return { body: JSON.stringify(execReview('b3a1c0de-0000-4000-8000-000000000002', 'bob')), allowed: false };
    case 'AccessRequest create':
      return { body: JSON.stringify(createReview('b3a1c0de-0000-4000-8000-000000000003')), allowed: true };
  }
}
