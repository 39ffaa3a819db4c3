// Builders for the friends of exec: reviews from the recorded fixtures (tests/fixtures/*-review.json,
// shaped as the kube-apiserver sends them), varied per test, and AccessRequests for each subresource.
import { readFileSync } from 'node:fs';
import * as v from 'valibot';
import { AccessRequest, AdmissionRequest } from '../../../functions/schemas.ts';
import { minutes } from '../../support/builders.ts';

export type Fixture =
  'attach-review' | 'portforward-review' | 'ephemeralcontainers-review' | 'copy-in-review' | 'exec-review';
type Raw = Record<string, any>;

/** The AdmissionRequest of a fixture, as raw JSON, for a test to change. */
export function rawReview(name: Fixture): Raw {
  const review = JSON.parse(readFileSync(new URL(`../../fixtures/${name}.json`, import.meta.url), 'utf8')) as {
    request: Raw;
  };
  return review.request;
}

/** A fixture's AdmissionRequest, parsed as the shell parses it, after `change` edits the raw JSON. */
export function review(name: Fixture, change: (request: Raw) => void = () => {}): AdmissionRequest {
  const request = rawReview(name);
  change(request);
  return v.parse(AdmissionRequest, request);
}

export const bob = { username: 'bob', groups: ['developers', 'system:authenticated'] };
export const admin = { username: 'admin', groups: ['kube-request-access:admins', 'system:authenticated'] };

/** An AccessRequest for `subResource` of pod team-a/web-0 by alice, with the given spec fields. */
export function friendRequest(
  subResource: string,
  spec: Record<string, unknown> = {},
  options: { name?: string; user?: string; pod?: string; validFor?: string } = {},
): AccessRequest {
  const name = options.name ?? 'alice-web-0';
  return v.parse(AccessRequest, {
    apiVersion: 'kube-request-access.io/v1',
    kind: 'AccessRequest',
    metadata: {
      name,
      namespace: 'team-a',
      uid: `uid-${name}`,
      resourceVersion: '100',
      creationTimestamp: minutes(-30),
    },
    spec: {
      userInfo: { username: options.user ?? 'alice' },
      forObject: {
        resource: { group: '', version: 'v1', resource: 'pods' },
        subResource,
        name: options.pod ?? 'web-0',
        namespace: 'team-a',
      },
      validFor: options.validFor ?? '',
      ...spec,
    },
  });
}

export const attachRequest = (options: Parameters<typeof friendRequest>[2] & { container?: string } = {}) =>
  friendRequest(
    'attach',
    { attachOptions: { container: options.container ?? 'app', stdout: true, stderr: true } },
    options,
  );

export const portForwardRequest = (ports: number[], options: Parameters<typeof friendRequest>[2] = {}) =>
  friendRequest('portforward', { portForwardOptions: ports.length ? { ports } : {} }, options);

export const debugRequest = (
  debugOptions: Record<string, unknown> = {},
  options: Parameters<typeof friendRequest>[2] = {},
) =>
  friendRequest(
    'ephemeralcontainers',
    { debugOptions: { image: 'busybox:1.36', target: 'app', command: ['ps', 'aux'], ...debugOptions } },
    options,
  );

export const copyInRequest = (
  path = '/tmp/upload',
  options: Parameters<typeof friendRequest>[2] & { container?: string } = {},
) =>
  friendRequest(
    'exec',
    { execOptions: { container: options.container ?? 'app' }, copyOptions: { direction: 'in', path } },
    options,
  );

export const execRequest = (
  command: string[],
  options: Parameters<typeof friendRequest>[2] & { container?: string } = {},
) =>
  friendRequest(
    'exec',
    { execOptions: { container: options.container ?? 'app', command, stdout: true, stderr: true } },
    options,
  );
