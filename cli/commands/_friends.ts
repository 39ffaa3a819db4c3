// What `kubectl request attach|port-forward|debug|cp` share: the request-side flags, parsing them,
// and create-then-(optionally)-wait, as `kubectl request exec` does it (cli/lib/exec.ts).
import type { ArgsDef } from 'citty';
import type { AccessRequest } from '../../functions/schemas.ts';
import { listFlag, parseCustomKeys, parseValidFor, parseWait, stringFlag, type ParsedCommandLine } from '../lib/args.ts';
import type { AccessCheck, AccessRequestBody, ConnectionOptions } from '../lib/cluster.ts';
import { CliError, ExitCode, explainError } from '../lib/errors.ts';
import { whoAmI, type CommandDeps } from '../lib/exec.ts';
import { connectionFlags, shellQuote } from '../lib/requests.ts';
import { formatAge } from '../lib/summary.ts';
import { waitForAccess } from '../lib/wait.ts';
import { connectionOptions } from './_shared.ts';

/** Flags every friend takes, as `kubectl request exec` names them. */
export const requestArgs = {
  'valid-for': { type: 'string', description: 'Ask for access during this long after the grant, e.g. 30m, 1h (default: a single use)', valueHint: 'duration' },
  key: { type: 'string', alias: ['k'], description: 'A custom key=value your organisation asks for (repeatable)', valueHint: 'key=value' },
  'on-behalf-of': { type: 'string', description: 'Request for another user (always-allowed admins only)', valueHint: 'user' },
  wait: { type: 'boolean', description: 'Wait for the decision and for RBAC; --wait=10m sets the timeout (default 15m)' },
} satisfies ArgsDef;

/** kubectl's -i/-t, accepted only to explain why they cannot be requested. */
export const interactiveArgs = {
  stdin: { type: 'boolean', alias: ['i'], description: 'Not allowed: interactive sessions cannot be audited' },
  tty: { type: 'boolean', alias: ['t'], description: 'Not allowed: interactive sessions cannot be audited' },
} satisfies ArgsDef;

export const PARSE = { multiple: ['key'], optionalValue: ['wait'] } as const;

export interface FriendCommon {
  connection: ConnectionOptions;
  validFor: string;
  customKeys: Record<string, string>;
  onBehalfOf?: string;
  /** Milliseconds to wait for the decision, or undefined to return at once. */
  waitMs?: number;
}

export function commonOptions(parsed: ParsedCommandLine): FriendCommon {
  const options: FriendCommon = {
    connection: connectionOptions(parsed),
    validFor: parseValidFor(stringFlag(parsed, 'valid-for')),
    customKeys: parseCustomKeys(listFlag(parsed, 'key')),
  };
  const onBehalfOf = stringFlag(parsed, 'on-behalf-of');
  if (onBehalfOf) options.onBehalfOf = onBehalfOf;
  const waitMs = parseWait(stringFlag(parsed, 'wait'));
  if (waitMs !== undefined) options.waitMs = waitMs;
  return options;
}

export interface Planned {
  body: AccessRequestBody;
  /** The kubectl command the request allows, once granted. */
  next: (request: AccessRequest, connection: ConnectionOptions) => string;
  /** The RBAC the user needs once granted (checked with --wait). */
  checks: AccessCheck[];
  /** Lines for stderr before creating (defaulted container, what cannot be checked, ...). */
  notes: string[];
  /** Lines for stdout after the kubectl command (what else to request, ...). */
  after?: string[];
}

/** Creates the planned request and, with --wait, waits for the decision and RBAC. */
export async function createAndMaybeWait(
  deps: CommandDeps,
  options: FriendCommon,
  plan: (me: string) => Promise<Planned>,
): Promise<number> {
  const { cluster, io } = deps;
  const namespace = cluster.namespace;
  const me = await whoAmI(cluster);
  const planned = await plan(options.onBehalfOf ?? me);
  for (const note of planned.notes) io.stderr(note);
  let created: AccessRequest;
  try {
    created = await cluster.createAccessRequest(namespace, planned.body);
  } catch (error) {
    throw explainError(error, { action: 'create the access request', namespace, server: cluster.server });
  }
  const name = created.metadata.name;
  const line = planned.next(created, options.connection);
  const nsFlag = shellQuote(['-n', namespace, ...connectionFlags(options.connection)]);
  // The approver has their own kubeconfig and context: hand them only the namespace.
  const approverFlags = shellQuote(['-n', namespace]);
  io.stdout(`accessrequest/${name} created in namespace ${namespace}`);
  if (options.waitMs === undefined) {
    io.stdout(`An approver grants it with: kubectl request grant ${name} ${approverFlags}`);
    io.stdout(`Once it is granted, run:\n  ${line}`);
    for (const text of planned.after ?? []) io.stdout(text);
    return ExitCode.OK;
  }
  const result = await waitForAccess(
    { cluster, now: deps.now, sleep: deps.sleep, progress: (text) => io.stderr(text) },
    created,
    { timeoutMs: options.waitMs, checks: planned.checks },
  );
  switch (result.outcome) {
    case 'granted':
      io.stdout(`granted by ${result.grant.spec.grantedBy.username}; run now:\n  ${line}`);
      for (const text of planned.after ?? []) io.stdout(text);
      return ExitCode.OK;
    case 'denied': {
      const reason = result.grant.spec.reason ? `: ${result.grant.spec.reason}` : ' (no reason given)';
      throw new CliError(`${name} was denied by ${result.grant.spec.grantedBy.username}${reason}`, ExitCode.DENIED);
    }
    case 'expired':
      throw new CliError(`${name} was granted but has already expired; request again`, ExitCode.DENIED);
    case 'gone':
      throw new CliError(`${name} was deleted while waiting (cancelled or cleaned up); request again`);
    case 'timeout':
      if (result.stage === 'decision') {
        throw new CliError(
          `timed out after ${formatAge(options.waitMs)}: ${name} is still pending; check it with kubectl request describe ${name} ${nsFlag}`,
          ExitCode.TIMEOUT,
        );
      }
      throw new CliError(
        `timed out after ${formatAge(options.waitMs)}: ${name} is granted but RBAC does not yet allow ${(result.missing ?? []).join(', ')}; ` +
          'ask a cluster admin to check the kube-request-access controller',
        ExitCode.TIMEOUT,
      );
  }
}

/** RBAC checks for a CONNECT subresource: WebSocket needs get as well as create. */
export function connectChecks(subresource: string, namespace: string, pod: string): AccessCheck[] {
  return ['create', 'get'].map((verb) => ({ verb, resource: 'pods', subresource, namespace, name: pod }));
}

/** The kubectl command line with the user's connection flags, ready to copy. */
export function kubectlLine(connection: ConnectionOptions, verb: string, args: readonly string[]): string {
  return shellQuote(['kubectl', ...connectionFlags(connection), verb, ...args]);
}
