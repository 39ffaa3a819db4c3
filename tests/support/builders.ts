// Object-literal builders for unit tests: AdmissionRequests as the apiserver sends them, and
// AccessRequests / AccessGrants as they sit in the cluster.
import * as v from 'valibot';
import { AccessGrant, AccessRequest, AdmissionRequest } from '../../functions/schemas.ts';
import {
  DEFAULT_CONFIG,
  NO_VALIDATOR,
  type Config,
  type Context,
  type Lookup,
  type ResourceAttributes,
  type Validator,
} from '../../functions/types.ts';
import { MemoryCluster } from '../../adapters/memory/lookup.ts';
import type { EffectExecutor } from '../../adapters/ports.ts';

export const NOW = new Date('2026-11-28T10:00:00Z');
export const minutes = (n: number) => new Date(NOW.getTime() + n * 60_000).toISOString();

/** A Context at NOW; `validate` scripts the extended-validation webhook (default: every request is valid). */
export function context(
  config: Partial<Config> = {},
  now = NOW,
  validate?: Validator['validateAccessRequest'],
): Context {
  return {
    now,
    config: { ...DEFAULT_CONFIG, alwaysAllowedGroups: ['kube-request-access:admins'], ...config },
    validator: validate ? { validateAccessRequest: validate } : NO_VALIDATOR,
  };
}

type User = { username: string; groups?: string[] };
const alice: User = { username: 'alice', groups: ['developers', 'system:authenticated'] };

export function execReview(
  options: {
    user?: User;
    namespace?: string;
    pod?: string;
    container?: string;
    command?: string[];
    stdin?: boolean;
    tty?: boolean;
    dryRun?: boolean;
    uid?: string;
  } = {},
): AdmissionRequest {
  const object: Record<string, unknown> = {
    kind: 'PodExecOptions',
    apiVersion: 'v1',
    stdout: true,
    container: options.container ?? 'app',
    command: options.command ?? ['cat', '/app/config'],
  };
  if (options.stdin) object.stdin = true;
  if (options.tty) object.tty = true;
  else object.stderr = true;
  return v.parse(AdmissionRequest, {
    uid: options.uid ?? 'e1b2c3d4-0000-4000-8000-000000000001',
    kind: { group: '', version: 'v1', kind: 'PodExecOptions' },
    resource: { group: '', version: 'v1', resource: 'pods' },
    subResource: 'exec',
    requestKind: { group: '', version: 'v1', kind: 'PodExecOptions' },
    requestResource: { group: '', version: 'v1', resource: 'pods' },
    requestSubResource: 'exec',
    name: options.pod ?? 'web-0',
    namespace: options.namespace ?? 'team-a',
    operation: 'CONNECT',
    userInfo: options.user ?? alice,
    object,
    oldObject: null,
    dryRun: options.dryRun ?? false,
    options: null,
  });
}

export function accessRequest(
  options: {
    name?: string;
    namespace?: string;
    user?: string;
    pod?: string;
    container?: string;
    command?: string[];
    validFor?: string;
    stdin?: boolean;
    tty?: boolean;
    subResource?: string;
    targetNamespace?: string;
    uid?: string;
    createdAt?: string;
    customKeys?: Record<string, string>;
    maxUses?: number;
    /** spec.forObject.uid: pinned to one pod object. */
    podUID?: string;
    status?: { uses?: number; usedAt?: string };
  } = {},
): AccessRequest {
  const namespace = options.namespace ?? 'team-a';
  const name = options.name ?? 'alice-web-0';
  return v.parse(AccessRequest, {
    apiVersion: 'kube-request-access.io/v1',
    kind: 'AccessRequest',
    metadata: {
      name,
      namespace,
      uid: options.uid ?? `uid-${name}`,
      resourceVersion: '100',
      creationTimestamp: options.createdAt ?? minutes(-30),
    },
    spec: {
      userInfo: { username: options.user ?? 'alice' },
      forObject: {
        resource: { group: '', version: 'v1', resource: 'pods' },
        subResource: options.subResource ?? 'exec',
        name: options.pod ?? 'web-0',
        namespace: options.targetNamespace ?? namespace,
        ...(options.podUID ? { uid: options.podUID } : {}),
      },
      validFor: options.validFor ?? '',
      execOptions: {
        container: options.container ?? 'app',
        command: options.command ?? ['cat', '/app/config'],
        stdout: true,
        stderr: true,
        ...(options.stdin ? { stdin: true } : {}),
        ...(options.tty ? { tty: true } : {}),
      },
      ...(options.customKeys ? { customKeys: options.customKeys } : {}),
      ...(options.maxUses !== undefined ? { maxUses: options.maxUses } : {}),
    },
    ...(options.status ? { status: options.status } : {}),
  });
}

export function accessGrant(
  options: {
    name?: string;
    namespace?: string;
    grantFor?: string;
    grantedBy?: string;
    status?: 'granted' | 'denied';
    createdAt?: string;
    /** Default: the uid `accessRequest()` gives a request named `grantFor`; null leaves it out. */
    grantForUID?: string | null;
    reason?: string;
    /** Narrowing: spec.validFor and spec.maxUses. */
    validFor?: string;
    maxUses?: number;
  } = {},
): AccessGrant {
  const grantFor = options.grantFor ?? 'alice-web-0';
  const grantForUID = options.grantForUID === undefined ? `uid-${grantFor}` : options.grantForUID;
  return v.parse(AccessGrant, {
    apiVersion: 'kube-request-access.io/v1',
    kind: 'AccessGrant',
    metadata: {
      name: options.name ?? `${grantFor}-grant`,
      namespace: options.namespace ?? 'team-a',
      uid: `uid-grant-${grantFor}`,
      resourceVersion: '200',
      creationTimestamp: options.createdAt ?? minutes(-10),
    },
    spec: {
      grantFor,
      grantedBy: { username: options.grantedBy ?? 'carol' },
      ...(grantForUID !== null ? { grantForUID } : {}),
      ...(options.reason ? { reason: options.reason } : {}),
      ...(options.validFor ? { validFor: options.validFor } : {}),
      ...(options.maxUses !== undefined ? { maxUses: options.maxUses } : {}),
    },
    status: options.status ?? 'granted',
  });
}

/** Admission of creating (or updating) an AccessRequest / AccessGrant object. */
export function objectReview(
  object: AccessRequest | AccessGrant | Record<string, unknown>,
  options: {
    user?: User;
    operation?: 'CREATE' | 'UPDATE' | 'DELETE';
    oldObject?: unknown;
    namespace?: string;
    dryRun?: boolean;
  } = {},
): AdmissionRequest {
  const kind = (object as { kind?: string }).kind ?? 'AccessRequest';
  const resource = kind === 'AccessGrant' ? 'accessgrants' : 'accessrequests';
  const metadata = (object as { metadata?: { name?: string; namespace?: string } }).metadata ?? {};
  return v.parse(AdmissionRequest, {
    uid: 'c0ffee00-0000-4000-8000-000000000002',
    kind: { group: 'kube-request-access.io', version: 'v1', kind },
    resource: { group: 'kube-request-access.io', version: 'v1', resource },
    subResource: '',
    name: metadata.name ?? '',
    namespace: options.namespace ?? metadata.namespace ?? 'team-a',
    operation: options.operation ?? 'CREATE',
    userInfo: options.user ?? alice,
    // A DELETE review carries the object being deleted as oldObject, and no object.
    object: options.operation === 'DELETE' ? null : object,
    oldObject: options.operation === 'DELETE' ? object : (options.oldObject ?? null),
    dryRun: options.dryRun ?? false,
  });
}

/** A Lookup over a MemoryCluster; `approvers` pass the SubjectAccessReview for creating grants. */
export function lookupOf(
  objects: unknown[],
  approvers: readonly string[] = ['carol'],
): Lookup & { cluster: MemoryCluster; asked: ResourceAttributes[] } {
  const asked: ResourceAttributes[] = [];
  const cluster = new MemoryCluster(objects, (user, attributes) => {
    asked.push(attributes);
    return approvers.includes(user.username) && attributes.verb === 'create' && attributes.resource === 'accessgrants';
  });
  return {
    cluster,
    asked,
    accessRequestsFor: (q) => cluster.accessRequestsFor(q),
    accessRequest: (n, name) => cluster.accessRequest(n, name),
    grantsFor: (n, name) => cluster.grantsFor(n, name),
    policiesFor: (n) => cluster.policiesFor(n),
    isAuthorized: (user, attributes) => cluster.isAuthorized(user, attributes),
    podUID: (n, name) => cluster.podUID(n, name),
  };
}

/**
 * What the shell reads and writes, over one MemoryCluster: the lookup (with `lookup` overriding
 * some of its calls), the validator (scripted by `validate`; default: every request is valid) and
 * the effects. Spread it into createApp's options.
 */
export function shellPorts(
  cluster: MemoryCluster,
  options: { lookup?: Partial<Lookup>; validate?: Validator['validateAccessRequest'] } = {},
): { lookup: Lookup; validator: Validator; effects: EffectExecutor } {
  return {
    lookup: {
      accessRequestsFor: (q) => cluster.accessRequestsFor(q),
      accessRequest: (namespace, name) => cluster.accessRequest(namespace, name),
      grantsFor: (namespace, name) => cluster.grantsFor(namespace, name),
      policiesFor: (namespace) => cluster.policiesFor(namespace),
      isAuthorized: (user, attributes) => cluster.isAuthorized(user, attributes),
      podUID: (namespace, name) => cluster.podUID(namespace, name),
      ...options.lookup,
    },
    validator: options.validate ? { validateAccessRequest: options.validate } : NO_VALIDATOR,
    effects: cluster,
  };
}

export const users = {
  alice,
  bob: { username: 'bob', groups: ['developers', 'system:authenticated'] } satisfies User,
  carol: { username: 'carol', groups: ['approvers', 'system:authenticated'] } satisfies User,
  admin: { username: 'admin', groups: ['kube-request-access:admins', 'system:authenticated'] } satisfies User,
};
