// Break-glass in the plugin: the self-grant (`--break-glass --reason` on the request commands and
// on `grant`), and `kubectl request review NAME`, another approver's after-the-fact review. The
// webhook decides (functions/grant/breakglass.ts); this builds the objects and explains first.
import { reviewState, type ReviewState } from '../../functions/breakglass.ts';
import type { AccessGrant, AccessRequest } from '../../functions/schemas.ts';
import type { AccessGrantBody } from './cluster.ts';
import { CliError, ExitCode, explainError } from './errors.ts';
import type { CommandDeps } from './exec.ts';
import { whoAmI } from './exec.ts';
import { buildGrant, grantName } from './requests.ts';
import { ageOf, summarizeRequest } from './summary.ts';

/**
 * The requester's own break-glass grant of `request`, naming them as the request does (the webhook
 * requires that spelling; with --username-prefix, the caller's own name may carry the prefix the
 * request omits).
 */
export function buildBreakGlassGrant(request: AccessRequest, reason: string): AccessGrantBody {
  const granter = request.spec.userInfo.username;
  const body = buildGrant({ request, granter, status: 'granted', reason }) as AccessGrant;
  return { ...body, spec: { ...body.spec, breakGlass: true } };
}

/** One review per request: a fixed name, so a second review conflicts. */
export function reviewName(requestName: string): string {
  return `${requestName}-review`.slice(0, 253);
}

export function buildReview(request: AccessRequest, me: string, reason?: string): AccessGrantBody {
  const body = buildGrant({ request, granter: me, status: 'reviewed', ...(reason ? { reason } : {}) }) as AccessGrant;
  return { ...body, metadata: { ...body.metadata, name: reviewName(request.metadata.name) } };
}

/** "break-glass by alice 5m ago: prod is down; needs review" for describe and review. */
export function reviewLines(state: ReviewState | undefined, name: string, namespace: string, now: Date): string[] {
  if (!state) return [];
  const glass = state.breakGlass;
  const lines = [
    `  break-glass: by ${glass.spec.grantedBy.username}, ${ageOf(glass, now)} ago: ${glass.spec.reason ?? ''}`.trimEnd(),
  ];
  if (state.reviewedBy) {
    const note = state.reviewedBy.spec.reason ? `: ${state.reviewedBy.spec.reason}` : '';
    lines.push(
      `  reviewed:    by ${state.reviewedBy.spec.grantedBy.username}, ${ageOf(state.reviewedBy, now)} ago${note}`,
    );
  } else {
    lines.push(`  reviewed:    not yet; another approver runs: kubectl request review ${name} -n ${namespace}`);
  }
  return lines;
}

/** Creates the break-glass grant of a request just created (or of one's own pending request). */
export async function breakGlass(deps: CommandDeps, request: AccessRequest, reason: string): Promise<void> {
  const { cluster, io } = deps;
  const namespace = request.metadata.namespace;
  const name = request.metadata.name;
  try {
    await cluster.createAccessGrant(namespace, buildBreakGlassGrant(request, reason));
  } catch (error) {
    throw explainError(error, {
      action: `break glass for ${name} (the request stays pending; an approver can still grant it)`,
      requestName: name,
      namespace,
      server: cluster.server,
    });
  }
  io.stderr(
    `break-glass: you granted ${name} yourself; this is audited, and it is listed by kubectl request list --needs-review until another approver runs: kubectl request review ${name} -n ${namespace}`,
  );
}

export interface ReviewOptions {
  name: string;
  reason?: string;
}

/** `kubectl request review NAME`: another approver acknowledges a break-glass grant after the fact. */
export async function review(deps: CommandDeps, options: ReviewOptions): Promise<number> {
  const { cluster, io } = deps;
  const { name } = options;
  const namespace = cluster.namespace;
  const me = await whoAmI(cluster);
  let request: AccessRequest;
  let grants: AccessGrant[];
  try {
    request = await cluster.getAccessRequest(namespace, name);
    grants = await cluster.listAccessGrants(namespace);
  } catch (error) {
    throw explainError(error, {
      action: `read access request ${name}`,
      requestName: name,
      namespace,
      server: cluster.server,
    });
  }
  const state = reviewState(request, grants, '');
  if (!state) {
    throw new CliError(
      `${name} was not granted by break-glass, so there is nothing to review; see kubectl request list --needs-review`,
    );
  }
  if (state.reviewedBy) {
    throw new CliError(
      `${name} was already reviewed by ${state.reviewedBy.spec.grantedBy.username} ${ageOf(state.reviewedBy, deps.now())} ago; nothing to do`,
    );
  }
  if (request.spec.userInfo.username === me) {
    throw new CliError(
      `you cannot review your own break-glass request ${name}; another approver has to`,
      ExitCode.DENIED,
    );
  }
  io.stdout(summarizeRequest(request, deps.now()));
  for (const line of reviewLines(state, name, namespace, deps.now()).slice(0, 1)) io.stdout(line);
  try {
    await cluster.createAccessGrant(namespace, buildReview(request, me, options.reason));
  } catch (error) {
    if ((error as { code?: unknown }).code === 409) {
      throw new CliError(`${name} was reviewed meanwhile (accessgrant ${reviewName(name)} exists); nothing to do`);
    }
    throw explainError(error, { action: `review ${name}`, requestName: name, namespace, server: cluster.server });
  }
  io.stdout(`reviewed ${name}: the break-glass grant of ${request.spec.userInfo.username} is reviewed by ${me}`);
  return ExitCode.OK;
}

export { grantName };
