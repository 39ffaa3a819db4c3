// Object literals for reconcile/cleanup/index tests: AccessRequests and AccessGrants as the
// informers deliver them (already parsed by the valibot schemas).
import * as v from 'valibot';
import { AccessGrant, AccessRequest } from '../../../functions/schemas.ts';

export function request(
  name: string,
  options: { namespace?: string; user?: string; validFor?: string; created?: string; uid?: string; pod?: string } = {},
): AccessRequest {
  const namespace = options.namespace ?? 'default';
  return v.parse(AccessRequest, {
    apiVersion: 'kube-request-access.io/v1',
    kind: 'AccessRequest',
    metadata: {
      name,
      namespace,
      uid: options.uid ?? `uid-${namespace}-${name}`,
      resourceVersion: '1',
      creationTimestamp: options.created ?? '2026-01-01T10:00:00Z',
    },
    spec: {
      userInfo: { username: options.user ?? 'alice' },
      forObject: {
        resource: { group: '', version: 'v1', resource: 'pods' },
        subResource: 'exec',
        name: options.pod ?? 'web',
        namespace,
      },
      validFor: options.validFor ?? '',
      execOptions: { stdout: true, stderr: true, container: 'app', command: ['ls'] },
    },
  });
}

export function grant(
  name: string,
  grantFor: string,
  options: { namespace?: string; by?: string; status?: 'granted' | 'denied'; created?: string; forUID?: string } = {},
): AccessGrant {
  return v.parse(AccessGrant, {
    apiVersion: 'kube-request-access.io/v1',
    kind: 'AccessGrant',
    metadata: {
      name,
      namespace: options.namespace ?? 'default',
      uid: `uid-grant-${name}`,
      resourceVersion: '2',
      creationTimestamp: options.created ?? '2026-01-01T10:01:00Z',
    },
    spec: {
      grantFor,
      grantedBy: { username: options.by ?? 'carol' },
      // Default: the uid `request()` gives a request named `grantFor` in this namespace.
      grantForUID: options.forUID ?? `uid-${options.namespace ?? 'default'}-${grantFor}`,
    },
    status: options.status ?? 'granted',
  });
}

export const at = (iso: string) => new Date(iso);
