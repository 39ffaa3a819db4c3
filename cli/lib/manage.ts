// grant, deny, list, describe, cancel: reading requests and deciding on them.
import { isNotFound } from '../../adapters/errors.ts';
import { GROUP, type AccessGrant, type AccessRequest, type GrantStatus } from '../../functions/schemas.ts';
import { CliError, ExitCode, explainError, requestNotFound } from './errors.ts';
import type { CommandDeps } from './exec.ts';
import { reportWait, whoAmI } from './exec.ts';
import { confirm } from './prompt.ts';
import { readPolicy, type LoadedPolicy } from '../../functions/policy.ts';
import { needsReview, reviewState } from '../../functions/breakglass.ts';
import { statusOf } from '../../adapters/errors.ts';
import { breakGlass, reviewLines } from './breakglass.ts';
import { narrowingProblem } from '../../functions/grant/scope.ts';
import {
  buildGrant,
  connectionFlags,
  grantName,
  kubectlCommand,
  requestState,
  shellQuote,
  type GrantState,
} from './requests.ts';
import { checksFor, waitForAccess } from './wait.ts';
import { renderJsonPath } from './jsonpath.ts';
import { ageOf, describeRequest, listTable, summarizeRequest, type ListRow } from './summary.ts';
import type { ConnectionOptions } from './cluster.ts';

async function getRequest(deps: CommandDeps, name: string): Promise<AccessRequest> {
  const { cluster } = deps;
  try {
    return await cluster.getAccessRequest(cluster.namespace, name);
  } catch (error) {
    throw explainError(error, {
      action: `read access request ${name}`,
      requestName: name,
      namespace: cluster.namespace,
      server: cluster.server,
    });
  }
}

/** The namespace's AccessPolicies as the webhook reads them, for the state shown (N approvals). */
async function listPolicies(deps: CommandDeps, namespace: string | undefined): Promise<LoadedPolicy[]> {
  if (!deps.cluster.listAccessPolicies) return [];
  try {
    return (await deps.cluster.listAccessPolicies(namespace)).flatMap((object) => readPolicy(object) ?? []);
  } catch (error) {
    throw explainError(error, { action: 'list access policies', server: deps.cluster.server });
  }
}

async function listGrants(deps: CommandDeps, namespace: string | undefined): Promise<AccessGrant[]> {
  try {
    return await deps.cluster.listAccessGrants(namespace);
  } catch (error) {
    throw explainError(error, { action: 'list access grants', server: deps.cluster.server });
  }
}

/** "already granted by carol 5m ago" for a request that has been decided. */
export function decidedText(state: GrantState, now: Date): string | undefined {
  if (!('grant' in state)) return undefined;
  const verb =
    state.grant.status === 'denied' ? 'denied' : state.grant.spec.breakGlass ? 'granted (break-glass)' : 'granted';
  const expired = state.state === 'expired' ? ' (and has expired)' : '';
  return `${verb} by ${state.grant.spec.grantedBy.username} ${ageOf(state.grant, now)} ago${expired}`;
}

export interface DecideOptions {
  name: string;
  status: GrantStatus;
  reason?: string;
  /** `grant --break-glass`: the requester grants their own request under a policy's break-glass rule. */
  breakGlass?: boolean;
  /** Narrowing (grant only): a shorter window, fewer uses. */
  validFor?: string;
  maxUses?: number;
  yes: boolean;
  connection: ConnectionOptions;
}

/**
 * What --valid-for and --max-uses narrow (`10m instead of 1h, 2 uses instead of any number`), or
 * undefined without them; refused before the prompt with the webhook's own rule when they would widen.
 */
function narrowing(request: AccessRequest, options: DecideOptions): string | undefined {
  if (!options.validFor && options.maxUses === undefined) return undefined;
  const problem = narrowingProblem(request, {
    metadata: { name: '', namespace: request.metadata.namespace, uid: '', resourceVersion: '' },
    spec: {
      grantFor: request.metadata.name,
      grantedBy: { username: '' },
      ...(options.validFor ? { validFor: options.validFor } : {}),
      ...(options.maxUses !== undefined ? { maxUses: options.maxUses } : {}),
    },
    status: options.status,
  });
  if (problem) throw new CliError(`cannot grant ${request.metadata.name} that way: ${problem}`, ExitCode.USAGE);
  const parts: string[] = [];
  if (options.validFor) parts.push(`${options.validFor} instead of ${request.spec.validFor}`);
  if (options.maxUses !== undefined)
    parts.push(
      `${options.maxUses} use${options.maxUses === 1 ? '' : 's'} instead of ${request.spec.maxUses ?? 'any number'}`,
    );
  return parts.join(', ');
}

export async function decide(deps: CommandDeps, options: DecideOptions): Promise<number> {
  const { cluster, io } = deps;
  const verb = options.status === 'granted' ? 'grant' : 'deny';
  const me = await whoAmI(cluster);
  const request = await getRequest(deps, options.name);
  const policies = await listPolicies(deps, cluster.namespace);
  const grants = [...(await listGrants(deps, cluster.namespace))]; // as read, before the prompt
  const state = requestState(request, grants, deps.now(), policies);
  const decided = decidedText(state, deps.now());
  if (decided) throw new CliError(`${options.name} is already ${decided}; nothing to do`);
  if (options.breakGlass) {
    if (request.spec.userInfo.username !== me) {
      throw new CliError(
        `--break-glass is for your own request only, and ${options.name} is ${request.spec.userInfo.username}'s; grant it without --break-glass`,
        ExitCode.USAGE,
      );
    }
    io.stdout(summarizeRequest(request, deps.now()));
    await confirm(io, 'Break glass: grant your own request (audited, reviewed later)?', {
      yes: options.yes,
      what: `break glass for ${options.name}`,
    });
    await breakGlass(deps, request, options.reason ?? '');
    io.stdout(`granted ${options.name} by break-glass; run:\n  ${kubectlCommand(request) ?? ''}`.trimEnd());
    return ExitCode.OK;
  }
  if (request.spec.userInfo.username === me) {
    throw new CliError(`you cannot ${verb} your own request ${options.name}; another approver has to`, ExitCode.DENIED);
  }

  const narrowed = narrowing(request, options);
  io.stdout(summarizeRequest(request, deps.now()));
  if (state.state === 'pending' && state.required > 1) {
    const by = state.approvedBy.length ? ` (by ${state.approvedBy.join(', ')})` : '';
    io.stdout(`  approvals:   ${state.approvals} of ${state.required}${by}`);
  }
  if (narrowed) io.stdout(`  narrowed:    ${narrowed}`);
  await confirm(io, `${verb === 'grant' ? 'Grant' : 'Deny'} this request?`, {
    yes: options.yes,
    what: `${verb} ${options.name}`,
  });
  const body = buildGrant({
    request,
    granter: me,
    status: options.status,
    ...(options.reason ? { reason: options.reason } : {}),
    ...(options.validFor ? { validFor: options.validFor } : {}),
    ...(options.maxUses !== undefined ? { maxUses: options.maxUses } : {}),
    // A policy that wants several approvals: the first approver's grant already has the plain name.
    second: grants.some(
      (grant) => grant.spec.grantFor === request.metadata.name && grant.spec.grantForUID === request.metadata.uid,
    ),
  });
  try {
    await cluster.createAccessGrant(cluster.namespace, body);
  } catch (error) {
    if ((error as { code?: unknown }).code === 409) {
      const again = requestState(request, await listGrants(deps, cluster.namespace), deps.now(), policies);
      throw new CliError(
        `${options.name} is already ${decidedText(again, deps.now()) ?? `decided (accessgrant ${grantName(options.name)} exists)`}; nothing to do`,
      );
    }
    throw explainError(error, {
      action: `${verb} ${options.name}`,
      requestName: options.name,
      namespace: cluster.namespace,
      server: cluster.server,
    });
  }
  if (options.status === 'granted' && state.state === 'pending' && state.approvals + 1 < state.required) {
    const after = state.approvals + 1;
    io.stdout(
      `granted ${options.name}: ${after} of ${state.required} approvals; it needs ${state.required - after} more from other approvers`,
    );
  } else if (options.status === 'granted') {
    const window = options.validFor ?? request.spec.validFor;
    const uses = options.maxUses ?? request.spec.maxUses;
    const access =
      (window ? `for ${window}` : 'once') +
      (uses !== undefined && (window || uses > 1) ? `, ${uses} use${uses === 1 ? '' : 's'}` : '') +
      (narrowed ? `; narrowed: ${narrowed}` : '');
    const command = kubectlCommand(request);
    if (command) {
      io.stdout(`granted ${options.name}: ${request.spec.userInfo.username} may now run (${access}):`);
      io.stdout(`  ${command}`);
    } else {
      io.stdout(`granted ${options.name} (${access})`);
    }
  } else {
    io.stdout(`denied ${options.name}${options.reason ? ` (reason: ${options.reason})` : ''}`);
  }
  return ExitCode.OK;
}

export interface ListOptions {
  all: boolean;
  /** Break-glass requests (used or not) nobody reviewed yet, in every namespace the user may list. */
  needsReview?: boolean;
  allNamespaces: boolean;
  output?: 'wide' | 'yaml' | 'json' | 'name' | 'jsonpath';
  /** The template of -o jsonpath=TEMPLATE. */
  jsonPath?: string;
  noHeaders?: boolean;
  /** -l: a label selector, passed to the apiserver. */
  selector?: string;
  /** -w: keep printing a line for every request that appears or changes state. */
  watch?: boolean;
}

/** How often `list -w` looks again. A request's state also changes with its grant, so both are read. */
export const WATCH_POLL_MS = 2000;

async function listRows(deps: CommandDeps, options: ListOptions): Promise<ListRow[]> {
  const { cluster } = deps;
  const namespace = options.allNamespaces ? undefined : cluster.namespace;
  let requests: AccessRequest[];
  try {
    requests = await cluster.listAccessRequests(namespace, options.selector);
  } catch (error) {
    throw explainError(error, { action: 'list access requests', server: cluster.server });
  }
  const grants = await listGrants(deps, namespace);
  const policies = await listPolicies(deps, namespace);
  const now = deps.now();
  return requests
    .map((request) => {
      const review = reviewState(request, grants, '');
      return { request, state: requestState(request, grants, now, policies), ...(review ? { review } : {}) };
    })
    .sort(
      (a, b) =>
        a.request.metadata.namespace.localeCompare(b.request.metadata.namespace) ||
        Date.parse(a.request.metadata.creationTimestamp ?? '') - Date.parse(b.request.metadata.creationTimestamp ?? ''),
    );
}

/** kubectl's -o name: resource.group/name. */
function nameOf(request: AccessRequest): string {
  return `accessrequest.${GROUP}/${request.metadata.name}`;
}

/** `list --needs-review`: every namespace when the user may list there, else the current one (said on stderr). */
async function needsReviewRows(deps: CommandDeps, options: ListOptions): Promise<{ rows: ListRow[]; all: boolean }> {
  const keep = (rows: ListRow[]) => rows.filter((row) => row.review && !row.review.reviewedBy);
  if (!options.allNamespaces) {
    try {
      return { rows: keep(await listRows(deps, { ...options, allNamespaces: true })), all: true };
    } catch (error) {
      // listRows explains errors: a 403 comes back as a CliError with the DENIED exit code.
      const forbidden = statusOf(error) === 403 || (error instanceof CliError && error.exitCode === ExitCode.DENIED);
      if (!forbidden) throw error;
      deps.io.stderr(`(you may not list requests in every namespace; showing namespace ${deps.cluster.namespace})`);
    }
  }
  return { rows: keep(await listRows(deps, options)), all: !!options.allNamespaces };
}

export async function list(deps: CommandDeps, options: ListOptions): Promise<number> {
  const { cluster, io } = deps;
  if (options.needsReview) {
    const { rows, all } = await needsReviewRows(deps, options);
    if (rows.length === 0) {
      io.stderr(
        `No break-glass requests need a review ${all ? 'in any namespace you can see' : `in namespace ${cluster.namespace}`}.`,
      );
    } else if (options.output === 'name') {
      io.stdout(rows.map((row) => nameOf(row.request)).join('\n'));
    } else {
      io.stdout(listTable(rows, { wide: options.output === 'wide', allNamespaces: all }, deps.now()));
    }
    return ExitCode.OK;
  }
  const namespace = options.allNamespaces ? undefined : cluster.namespace;
  const rows = (await listRows(deps, options)).filter((row) => options.all || row.state.state === 'pending');
  if (options.output === 'json' || options.output === 'yaml' || options.output === 'jsonpath') {
    const document = { apiVersion: 'v1', kind: 'List', items: rows.map((row) => row.request) };
    if (options.output === 'json') io.stdout(JSON.stringify(document, null, 2));
    else if (options.output === 'jsonpath')
      io.stdout(renderJsonPath(options.jsonPath ?? '', JSON.parse(JSON.stringify(document))));
    else io.stdout((await import('@kubernetes/client-node')).dumpYaml(document).trimEnd());
    return ExitCode.OK;
  }
  const table = (shown: readonly ListRow[], headers: boolean): string => {
    if (options.output === 'name') return shown.map((row) => nameOf(row.request)).join('\n');
    const text = listTable(
      shown,
      { wide: options.output === 'wide', allNamespaces: options.allNamespaces },
      deps.now(),
    );
    return headers ? text : text.split('\n').slice(1).join('\n');
  };
  if (rows.length === 0) {
    const where = namespace ? `in namespace ${namespace}` : 'in any namespace';
    io.stderr(
      `No ${options.all ? '' : 'pending '}access requests ${where}.${options.all ? '' : ' (--all shows decided ones too)'}`,
    );
  } else {
    io.stdout(table(rows, !options.noHeaders && options.output !== 'name'));
  }
  if (!options.watch) return ExitCode.OK;

  // -w: one line per request that appears or changes state, as kubectl get -w prints them.
  const seen = new Map<string, string>();
  const key = (row: ListRow) =>
    `${row.request.metadata.namespace}/${row.request.metadata.name}/${row.request.metadata.uid}`;
  const shownBefore = new Set(rows.map(key));
  for (const row of await listRows(deps, options)) seen.set(key(row), row.state.state);
  for (;;) {
    await deps.sleep(WATCH_POLL_MS);
    const changed: ListRow[] = [];
    for (const row of await listRows(deps, options)) {
      const k = key(row);
      if (seen.get(k) === row.state.state) continue;
      seen.set(k, row.state.state);
      if (options.all || row.state.state === 'pending' || shownBefore.has(k)) {
        shownBefore.add(k);
        changed.push(row);
      }
    }
    if (changed.length > 0) io.stdout(table(changed, false));
  }
}

export async function describe(deps: CommandDeps, name: string, connection: ConnectionOptions): Promise<number> {
  const request = await getRequest(deps, name);
  const state = requestState(
    request,
    await listGrants(deps, deps.cluster.namespace),
    deps.now(),
    await listPolicies(deps, deps.cluster.namespace),
  );
  deps.io.stdout(describeRequest(request, state, deps.now()));
  const grants = await listGrants(deps, deps.cluster.namespace);
  for (const line of reviewLines(reviewState(request, grants, ''), name, deps.cluster.namespace, deps.now()))
    deps.io.stdout(line);
  const command = kubectlCommand(request, connection);
  if (state.state === 'granted' && command) deps.io.stdout(`  run:         ${command}`);
  return ExitCode.OK;
}

export async function cancel(deps: CommandDeps, name: string): Promise<number> {
  const { cluster, io } = deps;
  const me = await whoAmI(cluster);
  const request = await getRequest(deps, name);
  const owner = request.spec.userInfo.username;
  if (owner !== me) {
    throw new CliError(
      `${name} was requested by ${owner}, not by you (${me}); only the requester cancels a request ` +
        `(an admin can run: kubectl delete accessrequest ${name} -n ${cluster.namespace})`,
      ExitCode.DENIED,
    );
  }
  try {
    await cluster.deleteAccessRequest(cluster.namespace, name, request.metadata.uid || undefined);
  } catch (error) {
    if (isNotFound(error)) throw requestNotFound(name, cluster.namespace);
    throw explainError(error, {
      action: `cancel ${name}`,
      requestName: name,
      namespace: cluster.namespace,
      server: cluster.server,
    });
  }
  io.stdout(`accessrequest/${name} cancelled`);
  return ExitCode.OK;
}

export interface WaitForOptions {
  name: string;
  timeoutMs: number;
  connection: ConnectionOptions;
}

/** `kubectl request wait NAME`: what `--wait` does, for a request made earlier (after Ctrl-C, or by a script). */
export async function waitFor(deps: CommandDeps, options: WaitForOptions): Promise<number> {
  const { cluster, io } = deps;
  const request = await getRequest(deps, options.name);
  const nsFlag = shellQuote(['-n', cluster.namespace, ...connectionFlags(options.connection)]);
  const result = await waitForAccess(
    { cluster, now: deps.now, sleep: deps.sleep, progress: (text) => io.stderr(text) },
    request,
    { timeoutMs: options.timeoutMs, checks: checksFor(request) },
  );
  return reportWait(io, result, {
    name: options.name,
    line: kubectlCommand(request, options.connection),
    nsFlag,
    waitMs: options.timeoutMs,
  });
}

export interface RevokeOptions {
  name: string;
  yes: boolean;
}

/** `kubectl request revoke NAME`: an approver takes a grant back (deletes the AccessGrant); a denial stands. */
export async function revoke(deps: CommandDeps, options: RevokeOptions): Promise<number> {
  const { cluster, io } = deps;
  const { name } = options;
  const namespace = cluster.namespace;
  const request = await getRequest(deps, name);
  const state = requestState(request, await listGrants(deps, namespace), deps.now());
  if (state.state === 'pending' || state.state === 'invalid') {
    throw new CliError(
      `${name} has not been granted, so there is nothing to revoke; to refuse it: kubectl request deny ${name} -n ${namespace}`,
    );
  }
  if (state.state === 'denied') {
    throw new CliError(
      `${name} was ${decidedText(state, deps.now())}; a denial stands and is not revoked (only an admin can remove it)`,
    );
  }
  const grant = state.grant;
  io.stdout(summarizeRequest(request, deps.now()));
  io.stdout(`  status:      ${decidedText(state, deps.now())}`);
  await confirm(io, 'Revoke this grant?', { yes: options.yes, what: `revoke ${name}` });
  try {
    await cluster.deleteAccessGrant(namespace, grant.metadata.name, grant.metadata.uid || undefined);
  } catch (error) {
    if (isNotFound(error))
      throw new CliError(`the grant of ${name} is already gone (revoked by someone else, or cleaned up)`);
    throw explainError(error, { action: `revoke ${name}`, namespace, server: cluster.server });
  }
  io.stdout(
    `revoked ${name}: accessgrant/${grant.metadata.name} deleted, ${request.spec.userInfo.username}'s access ends with it`,
  );
  io.stdout(`The request is pending again; to refuse it for good: kubectl request deny ${name} -n ${namespace}`);
  return ExitCode.OK;
}
