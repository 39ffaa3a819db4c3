// Building AccessRequests and AccessGrants, and reading their state. Plain data in, plain data out.
import { evaluateGrant, shellQuote, type GrantState } from '../../functions/access.ts';
import type { KubectlHints } from '../../functions/kind.ts';
import type { LoadedPolicy } from '../../functions/policy.ts';
import { kubectlArgs } from '../../functions/kinds.ts';
import {
  API_VERSION,
  CREATED_BY_ANNOTATION,
  type AccessGrant,
  type AccessRequest,
  type GrantStatus,
} from '../../functions/schemas.ts';
import type { AccessGrantBody, AccessRequestBody, ConnectionOptions } from './cluster.ts';

export const ACCESS_REQUEST_KIND = 'AccessRequest';
/** Who created a request made on behalf of someone else (`--on-behalf-of`); the webhook checks it. */
export const CREATED_BY = CREATED_BY_ANNOTATION;
export const ACCESS_GRANT_KIND = 'AccessGrant';

/** Lowercase DNS-label characters only, collapsed and trimmed, at most `max` long. */
export function slug(text: string, max: number): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .slice(0, max)
    .replace(/^-+|-+$/g, '');
}

/** `alice-web-7fb96c846b-pcnxl-` : the apiserver appends five random characters. */
export function requestGenerateName(username: string, pod: string): string {
  const user = slug(username, 20) || 'user';
  const podPart = slug(pod, 57 - user.length - 2) || 'pod';
  return `${user}-${podPart}-`;
}

export interface RequestInput {
  username: string;
  namespace: string;
  pod: string;
  /** The pods subresource of the kind of access: exec, attach, portforward, ephemeralcontainers. */
  subResource: string;
  /** Go duration, '' for one use. */
  validFor: string;
  customKeys: Record<string, string>;
  /** Fields for the subresource, e.g. `{ execOptions: {...} }`. */
  options: Record<string, unknown>;
}

export function buildAccessRequest(input: RequestInput): AccessRequestBody {
  return {
    apiVersion: API_VERSION,
    kind: ACCESS_REQUEST_KIND,
    metadata: { generateName: requestGenerateName(input.username, input.pod), namespace: input.namespace },
    spec: {
      userInfo: { username: input.username },
      forObject: {
        resource: { group: '', version: 'v1', resource: 'pods' },
        subResource: input.subResource,
        name: input.pod,
        namespace: input.namespace,
      },
      validFor: input.validFor,
      ...input.options,
      ...(Object.keys(input.customKeys).length > 0 ? { customKeys: input.customKeys } : {}),
    },
  };
}

/** The AccessRequest for `kubectl request exec`. An empty command asks for any command. */
export function buildExecRequest(input: {
  username: string;
  namespace: string;
  pod: string;
  container: string;
  command: readonly string[];
  validFor: string;
  customKeys: Record<string, string>;
}): AccessRequestBody {
  return buildAccessRequest({
    ...input,
    subResource: 'exec',
    options: {
      execOptions: { container: input.container, command: [...input.command], stdout: true, stderr: true },
    },
  });
}

/** One grant or denial per request: a fixed name, so a second decision conflicts. */
export function grantName(requestName: string): string {
  return `${requestName}-grant`;
}

/** The grant of a further approver: `REQUEST-grant-USER`, the user name made a valid object name. */
export function secondGrantName(requestName: string, granter: string): string {
  const user =
    granter
      .toLowerCase()
      .replace(/[^a-z0-9.-]+/g, '-')
      .replace(/^[-.]+|[-.]+$/g, '') || 'approver';
  return `${grantName(requestName)}-${user}`.slice(0, 253).replace(/[-.]+$/, '');
}

export function buildGrant(input: {
  request: AccessRequest;
  granter: string;
  status: GrantStatus;
  reason?: string;
  /** Another approver's grant exists (a policy wants several): this one is named after its approver. */
  second?: boolean;
  /** Narrowing: a shorter window, fewer uses (kubectl request grant --valid-for, --max-uses). */
  validFor?: string;
  maxUses?: number;
}): AccessGrantBody {
  const { request } = input;
  const name = input.second ? secondGrantName(request.metadata.name, input.granter) : grantName(request.metadata.name);
  return {
    apiVersion: API_VERSION,
    kind: ACCESS_GRANT_KIND,
    metadata: { name, namespace: request.metadata.namespace },
    spec: {
      grantFor: request.metadata.name,
      ...(request.metadata.uid ? { grantForUID: request.metadata.uid } : {}),
      grantedBy: { username: input.granter },
      ...(input.reason ? { reason: input.reason } : {}),
      ...(input.validFor ? { validFor: input.validFor } : {}),
      ...(input.maxUses !== undefined ? { maxUses: input.maxUses } : {}),
    },
    status: input.status,
  };
}

export type { GrantState };

/** The state of a request given the grants (of any request) the caller has. */
/** The state of a request given the grants (and the namespace's AccessPolicies: N approvals) the caller has. */
export function requestState(
  request: AccessRequest,
  grants: readonly AccessGrant[],
  now: Date,
  policies: readonly LoadedPolicy[] = [],
): GrantState {
  return evaluateGrant(request, grants, now, '', policies);
}

/** The flags that point kubectl at the same cluster the user pointed us at. */
export function connectionFlags(connection: ConnectionOptions): string[] {
  return [
    ...(connection.kubeconfig ? ['--kubeconfig', connection.kubeconfig] : []),
    ...(connection.context ? ['--context', connection.context] : []),
  ];
}

/**
 * The kubectl command the request allows once granted (kubectl exec, attach, port-forward, debug or
 * cp, as its kind says: functions/kinds.ts), as argv from 'kubectl' on; `hints` fill in what the
 * request does not record (local paths, port mappings). Undefined for a subresource no kind knows.
 */
export function kubectlArgv(
  request: Pick<AccessRequest, 'spec'>,
  connection: ConnectionOptions = {},
  hints?: KubectlHints,
): string[] | undefined {
  const args = kubectlArgs(request.spec, hints);
  return args && ['kubectl', ...connectionFlags(connection), ...args];
}

/** `kubectlArgv`, shell-quoted, ready to copy. */
export function kubectlCommand(
  request: Pick<AccessRequest, 'spec'>,
  connection: ConnectionOptions = {},
  hints?: KubectlHints,
): string | undefined {
  const argv = kubectlArgv(request, connection, hints);
  return argv && shellQuote(argv);
}

export { shellQuote };
