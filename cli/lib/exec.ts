// `kubectl request exec`: from the user's words to a created AccessRequest, optionally waiting.
import type { AccessRequest } from '../../functions/schemas.ts';
import type { Target } from './args.ts';
import type { Cluster, ConnectionOptions } from './cluster.ts';
import { CliError, ExitCode, explainError } from './errors.ts';
import { resolveTarget } from './pods.ts';
import { buildExecRequest, connectionFlags, kubectlExecCommand, shellQuote } from './requests.ts';
import type { Io } from './runtime.ts';
import { formatAge } from './summary.ts';
import { execChecks, waitForAccess } from './wait.ts';

export interface ExecOptions {
  connection: ConnectionOptions;
  target: Target;
  container?: string;
  command: string[];
  validFor: string;
  customKeys: Record<string, string>;
  onBehalfOf?: string;
  /** Milliseconds to wait for the decision, or undefined to return at once. */
  waitMs?: number;
}

export interface CommandDeps {
  cluster: Cluster;
  io: Io;
  now(): Date;
  sleep(ms: number): Promise<void>;
}

export async function whoAmI(cluster: Cluster): Promise<string> {
  try {
    return (await cluster.whoAmI()).username;
  } catch (error) {
    throw explainError(error, { action: 'find out who you are (SelfSubjectReview)', server: cluster.server });
  }
}

export async function requestExec(deps: CommandDeps, options: ExecOptions): Promise<number> {
  const { cluster, io } = deps;
  const namespace = cluster.namespace;
  const me = await whoAmI(cluster);
  const resolved = await resolveTarget(cluster, namespace, options.target, options.container);
  for (const note of resolved.notes) io.stderr(note);
  if (options.command.length === 0) io.stderr('no command after "--": asking for ANY command in the container');

  const body = buildExecRequest({
    username: options.onBehalfOf ?? me,
    namespace,
    pod: resolved.pod,
    container: resolved.container,
    command: options.command,
    validFor: options.validFor,
    customKeys: options.customKeys,
  });
  let created: AccessRequest;
  try {
    created = await cluster.createAccessRequest(namespace, body);
  } catch (error) {
    throw explainError(error, { action: 'create the access request', namespace, server: cluster.server });
  }
  const name = created.metadata.name;
  const execLine = kubectlExecCommand(created, options.connection);
  const nsFlag = shellQuote(['-n', namespace, ...connectionFlags(options.connection)]);
  // The approver has their own kubeconfig and context: hand them only the namespace.
  const approverFlags = shellQuote(['-n', namespace]);
  io.stdout(`accessrequest/${name} created in namespace ${namespace}`);
  if (options.waitMs === undefined) {
    io.stdout(`An approver grants it with: kubectl request grant ${name} ${approverFlags}`);
    io.stdout(`Once it is granted, run:\n  ${execLine}`);
    return ExitCode.OK;
  }

  const result = await waitForAccess(
    { cluster, now: deps.now, sleep: deps.sleep, progress: (line) => io.stderr(line) },
    created,
    { timeoutMs: options.waitMs, checks: execChecks(namespace, resolved.pod) },
  );
  switch (result.outcome) {
    case 'granted':
      io.stdout(`granted by ${result.grant.spec.grantedBy.username}; run now:\n  ${execLine}`);
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
