// `kubectl request exec`: from the user's words to a created AccessRequest, optionally waiting.
import * as v from 'valibot';
import { isDeepStrictEqual } from '../../functions/equal.ts';
import { AccessRequestSpec, type AccessGrant, type AccessRequest } from '../../functions/schemas.ts';
import type { Target } from './args.ts';
import type { AccessCheck, AccessRequestBody, Cluster, ConnectionOptions } from './cluster.ts';
import { CliError, ExitCode, explainError } from './errors.ts';
import { resolveTarget } from './pods.ts';
import { buildExecRequest, connectionFlags, CREATED_BY, kubectlArgv, requestState, shellQuote } from './requests.ts';
import type { Io } from './runtime.ts';
import { ageOf, formatAge } from './summary.ts';
import { execChecks, waitForAccess, type WaitResult } from './wait.ts';

/** The request-side options every `kubectl request` command that creates a request shares. */
export interface RequestCommon {
  connection: ConnectionOptions;
  validFor: string;
  customKeys: Record<string, string>;
  onBehalfOf?: string;
  /** Why the access is needed (spec.reason), shown to approvers. */
  reason?: string;
  /** Milliseconds to wait for the decision, or undefined to return at once. */
  waitMs?: number;
  /** `--run`: once granted, run the kubectl command the request allows (waitMs is then set). */
  run?: boolean;
  /** `--break-glass`: grant it yourself at once under an AccessPolicy's break-glass rule (needs `reason`). */
  breakGlass?: boolean;
  /** --max-uses: spec.maxUses. */
  maxUses?: number;
  /** --pin: pin the request to the pod object as it is now (spec.forObject.uid). */
  pin?: boolean;
}

export interface ExecOptions extends RequestCommon {
  target: Target;
  container?: string;
  command: string[];
}

export interface CommandDeps {
  cluster: Cluster;
  io: Io;
  now(): Date;
  sleep(ms: number): Promise<void>;
  /** Runs kubectl with these arguments, the terminal passed through; resolves with its exit code. */
  runKubectl?(args: readonly string[]): Promise<number>;
}

export async function whoAmI(cluster: Cluster): Promise<string> {
  try {
    return (await cluster.whoAmI()).username;
  } catch (error) {
    throw explainError(error, { action: 'find out who you are (SelfSubjectReview)', server: cluster.server });
  }
}

export async function requestExec(deps: CommandDeps, options: ExecOptions): Promise<number> {
  return createAndMaybeWait(deps, options, async (username) => {
    const namespace = deps.cluster.namespace;
    const resolved = await resolveTarget(deps.cluster, namespace, options.target, options.container);
    const notes = [...resolved.notes];
    if (options.command.length === 0)
      notes.push('--any-command: asking for ANY command in the container (the approver sees that)');
    return {
      body: buildExecRequest({
        username,
        namespace,
        pod: resolved.pod,
        container: resolved.container,
        command: options.command,
        validFor: options.validFor,
        customKeys: options.customKeys,
      }),
      next: (created, connection) => kubectlArgv(created, connection),
      checks: execChecks(namespace, resolved.pod),
      notes,
    };
  });
}

export interface Planned {
  body: AccessRequestBody;
  /** The kubectl command the request allows, once granted, as argv (requests.ts kubectlArgv, with what the user typed). */
  next: (request: AccessRequest, connection: ConnectionOptions) => string[] | undefined;
  /** The RBAC the user needs once granted (checked with --wait). */
  checks: AccessCheck[];
  /** Lines for stderr before creating (defaulted container, what cannot be checked, ...). */
  notes: string[];
  /** Lines for stdout after the kubectl command (what else to request, ...). */
  after?: string[];
}

/** The spec as the webhook reads it (defaults filled in), without what does not change the access asked for. */
function accessAsked(spec: unknown): unknown {
  const parsed = v.safeParse(AccessRequestSpec, spec);
  if (!parsed.success) return undefined;
  const { reason: _reason, ...rest } = parsed.output;
  return rest;
}

/** A pending request of the same user asking for exactly the same access, if there is one. */
export function identicalPending(
  body: Pick<AccessRequest, 'spec'>,
  requests: readonly AccessRequest[],
  grants: readonly AccessGrant[],
  now: Date,
): AccessRequest | undefined {
  const wanted = accessAsked(body.spec);
  if (wanted === undefined) return undefined;
  return requests.find(
    (request) =>
      request.spec.userInfo.username === body.spec.userInfo.username &&
      !request.metadata.deletionTimestamp &&
      requestState(request, grants, now).state === 'pending' &&
      isDeepStrictEqual(accessAsked(request.spec), wanted),
  );
}

/** --pin: the uid of the pod as it is now, or an error saying why it cannot be pinned. */
async function podUID(cluster: Cluster, namespace: string, pod: string): Promise<string> {
  let uid: string | undefined;
  try {
    uid = (await cluster.readPod(namespace, pod)).metadata?.uid;
  } catch (error) {
    const why = explainError(error, {
      action: `read pod ${pod} to pin the request to it`,
      namespace,
      server: cluster.server,
    });
    throw new CliError(
      `--pin: ${why.message}; --pin needs to read the pod (get pods); leave --pin out to ask without it`,
      why.exitCode,
    );
  }
  if (!uid)
    throw new CliError(`--pin: pod ${namespace}/${pod} has no uid to pin to; leave --pin out to ask without it`);
  return uid;
}

/** Creates the planned request and, with --wait, waits for the decision and RBAC. */
export async function createAndMaybeWait(
  deps: CommandDeps,
  options: RequestCommon,
  plan: (me: string) => Promise<Planned>,
): Promise<number> {
  const { cluster, io } = deps;
  const namespace = cluster.namespace;
  const me = await whoAmI(cluster);
  const planned = await plan(options.onBehalfOf ?? me);
  // The body is built as an AccessRequest (requests.ts); its declared input type is unknown.
  const body = structuredClone(planned.body) as AccessRequest;
  if (options.reason) body.spec.reason = options.reason;
  if (options.maxUses !== undefined) body.spec.maxUses = options.maxUses;
  if (options.pin) body.spec.forObject.uid = await podUID(cluster, namespace, body.spec.forObject.name);
  if (options.onBehalfOf && options.onBehalfOf !== me) {
    body.metadata = { ...body.metadata, annotations: { ...body.metadata?.annotations, [CREATED_BY]: me } };
  }
  const nsFlag = shellQuote(['-n', namespace, ...connectionFlags(options.connection)]);
  let existing: AccessRequest | undefined;
  try {
    const [requests, grants] = await Promise.all([
      cluster.listAccessRequests(namespace),
      cluster.listAccessGrants(namespace),
    ]);
    existing = identicalPending(body, requests, grants, deps.now());
  } catch (error) {
    throw explainError(error, { action: 'look for your pending requests', namespace, server: cluster.server });
  }
  if (existing) {
    const name = existing.metadata.name;
    const whose = options.onBehalfOf && options.onBehalfOf !== me ? `of ${options.onBehalfOf}` : 'of yours';
    throw new CliError(
      `an identical request ${whose} is already pending: ${name} (created ${ageOf(existing, deps.now())} ago); ` +
        `wait for it with: kubectl request wait ${name} ${nsFlag} (or withdraw it: kubectl request cancel ${name} ${nsFlag})`,
    );
  }
  for (const note of planned.notes) io.stderr(note);
  let created: AccessRequest;
  try {
    created = await cluster.createAccessRequest(namespace, body);
  } catch (error) {
    throw explainError(error, { action: 'create the access request', namespace, server: cluster.server });
  }
  const name = created.metadata.name;
  const argv = planned.next(created, options.connection);
  const line = argv && shellQuote(argv);
  // With --run, stdout is the command's: what the plugin says goes to stderr.
  const say = (text: string) => (options.run ? io.stderr(text) : io.stdout(text));
  // The approver has their own kubeconfig and context: hand them only the namespace.
  const approverFlags = shellQuote(['-n', namespace]);
  say(`accessrequest/${name} created in namespace ${namespace}`);
  if (options.breakGlass) {
    await (await import('./breakglass.ts')).breakGlass(deps, created, options.reason ?? '');
    if (options.waitMs === undefined) {
      say(`granted by break-glass${line ? `; run now:\n  ${line}` : ''}`);
      for (const text of planned.after ?? []) say(text);
      return ExitCode.OK;
    }
  }
  if (options.waitMs === undefined) {
    say(`An approver grants it with: kubectl request grant ${name} ${approverFlags}`);
    if (line) say(`Once it is granted, run:\n  ${line}`);
    for (const text of planned.after ?? []) say(text);
    return ExitCode.OK;
  }
  if (options.run) say(`An approver grants it with: kubectl request grant ${name} ${approverFlags}`);
  const result = await waitForAccess(
    { cluster, now: deps.now, sleep: deps.sleep, progress: (text) => io.stderr(text) },
    created,
    { timeoutMs: options.waitMs, checks: planned.checks },
  );
  if (options.run && result.outcome === 'granted' && argv) {
    const run = deps.runKubectl;
    if (!run) throw new CliError('--run is not available here: run the command yourself:\n  ' + line);
    io.stderr(`granted by ${result.grant.spec.grantedBy.username}; running: ${line}`);
    return run(argv.slice(1));
  }
  return reportWait(io, result, {
    name,
    line,
    nsFlag,
    waitMs: options.waitMs,
    ...(planned.after ? { after: planned.after } : {}),
  });
}

/** Prints what `--wait` (or `kubectl request wait`) ended with; a denial, expiry or timeout throws. */
export function reportWait(
  io: Io,
  result: WaitResult,
  about: { name: string; line: string | undefined; nsFlag: string; waitMs: number; after?: readonly string[] },
): number {
  const { name, line, nsFlag } = about;
  switch (result.outcome) {
    case 'granted':
      io.stdout(`granted by ${result.grant.spec.grantedBy.username}${line ? `; run now:\n  ${line}` : ''}`);
      for (const text of about.after ?? []) io.stdout(text);
      return ExitCode.OK;
    case 'denied': {
      const reason = result.grant.spec.reason ? `: ${result.grant.spec.reason}` : ' (no reason given)';
      throw new CliError(`${name} was denied by ${result.grant.spec.grantedBy.username}${reason}`, ExitCode.DENIED);
    }
    case 'expired':
      throw new CliError(`${name} was granted but has already expired; request again`, ExitCode.DENIED);
    case 'used':
      throw new CliError(`${name} was granted once and has been used; request again`, ExitCode.DENIED);
    case 'gone':
      throw new CliError(`${name} was deleted while waiting (cancelled or cleaned up); request again`);
    case 'timeout':
      if (result.stage === 'decision') {
        throw new CliError(
          `timed out after ${formatAge(about.waitMs)}: ${name} is still pending; keep waiting with kubectl request wait ${name} ${nsFlag}`,
          ExitCode.TIMEOUT,
        );
      }
      throw new CliError(
        `timed out after ${formatAge(about.waitMs)}: ${name} is granted but RBAC does not yet allow ${(result.missing ?? []).join(', ')}; ` +
          'ask a cluster admin to check the kube-request-access controller',
        ExitCode.TIMEOUT,
      );
  }
}
