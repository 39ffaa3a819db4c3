// `--wait`: poll until an approver decides, then until RBAC lets the user through, so the printed
// `kubectl exec` works the moment we return. Polling (not a watch) keeps it simple and survives
// apiserver restarts; one small GET and LIST a second is cheap.
import { isNotFound } from '../../adapters/errors.ts';
import { readPolicy } from '../../functions/policy.ts';
import { kindOf } from '../../functions/kinds.ts';
import type { AccessGrant, AccessRequest } from '../../functions/schemas.ts';
import type { AccessCheck, Cluster } from './cluster.ts';
import { formatAge } from './summary.ts';
import { requestState } from './requests.ts';

export type WaitResult =
  | { outcome: 'granted'; grant: AccessGrant }
  | { outcome: 'denied'; grant: AccessGrant }
  | { outcome: 'expired'; grant: AccessGrant }
  /** A one-shot request that has been granted and used already. */
  | { outcome: 'used'; grant: AccessGrant }
  /** The request disappeared: cancelled, cleaned up, or (one-shot) already used. */
  | { outcome: 'gone' }
  | { outcome: 'timeout'; stage: 'decision' | 'rbac'; grant?: AccessGrant; missing?: string[] };

export interface WaitDeps {
  cluster: Pick<Cluster, 'getAccessRequest' | 'listAccessGrants' | 'listAccessPolicies' | 'canI'>;
  now(): Date;
  sleep(ms: number): Promise<void>;
  progress(line: string): void;
}

export interface WaitOptions {
  timeoutMs: number;
  /** The SelfSubjectAccessReviews that must pass after the grant (create and get pods/exec). */
  checks: readonly AccessCheck[];
  pollMs?: number;
  /** How often a "still waiting" line is printed. */
  progressEveryMs?: number;
}

export function execChecks(namespace: string, pod: string): AccessCheck[] {
  return ['create', 'get'].map((verb) => ({ verb, resource: 'pods', subresource: 'exec', namespace, name: pod }));
}

/**
 * The RBAC a granted request gives, from its kind of access: a CONNECT subresource needs create
 * and get (WebSocket), an UPDATE one (ephemeral containers) patch.
 */
export function checksFor(request: Pick<AccessRequest, 'spec'>): AccessCheck[] {
  const kind = kindOf(request.spec);
  const { subResource, name, namespace } = request.spec.forObject;
  if (!kind) return [];
  const verbs = kind.operation === 'CONNECT' ? ['create', 'get'] : ['patch'];
  return verbs.map((verb) => ({
    verb,
    resource: 'pods',
    subresource: kind.subResource || subResource,
    namespace,
    name,
  }));
}

export async function waitForAccess(deps: WaitDeps, request: AccessRequest, options: WaitOptions): Promise<WaitResult> {
  const { cluster } = deps;
  const pollMs = options.pollMs ?? 1000;
  const progressEvery = options.progressEveryMs ?? 30_000;
  const start = deps.now().getTime();
  const deadline = start + options.timeoutMs;
  const { name, namespace } = request.metadata;
  let lastProgress = start;
  const tick = (what: string) => {
    const now = deps.now().getTime();
    if (now - lastProgress >= progressEvery) {
      lastProgress = now;
      deps.progress(`still waiting ${what} (${formatAge(now - start)} so far)`);
    }
  };

  deps.progress(
    `waiting for an approver to decide on ${name} (timeout ${formatAge(options.timeoutMs)}; ` +
      'Ctrl-C stops waiting, the request stays)',
  );
  let grant: AccessGrant;
  for (;;) {
    let current: AccessRequest;
    try {
      current = await cluster.getAccessRequest(namespace, name);
    } catch (error) {
      if (isNotFound(error)) return { outcome: 'gone' };
      throw error;
    }
    if (current.metadata.uid && request.metadata.uid && current.metadata.uid !== request.metadata.uid) {
      return { outcome: 'gone' };
    }
    // With a policy that wants several approvals, the first grant is not yet access.
    const policies = cluster.listAccessPolicies
      ? (await cluster.listAccessPolicies(namespace)).flatMap((object) => readPolicy(object) ?? [])
      : [];
    const state = requestState(current, await cluster.listAccessGrants(namespace), deps.now(), policies);
    if (state.state === 'denied') return { outcome: 'denied', grant: state.grant };
    if (state.state === 'expired') return { outcome: 'expired', grant: state.grant };
    if (state.state === 'used') return { outcome: 'used', grant: state.grant };
    if (state.state === 'granted') {
      grant = state.grant;
      break;
    }
    if (deps.now().getTime() >= deadline) return { outcome: 'timeout', stage: 'decision' };
    tick('for a decision');
    await deps.sleep(pollMs);
  }

  deps.progress(`granted by ${grant.spec.grantedBy.username}; waiting until RBAC lets you in`);
  for (;;) {
    const answers = await Promise.all(options.checks.map((check) => cluster.canI(check)));
    const missing = options.checks
      .filter((_, i) => !answers[i])
      .map((c) => `${c.verb} ${c.resource}/${c.subresource ?? ''}`);
    if (missing.length === 0) return { outcome: 'granted', grant };
    if (deps.now().getTime() >= deadline) return { outcome: 'timeout', stage: 'rbac', grant, missing };
    tick(`for RBAC (${missing.join(', ')})`);
    await deps.sleep(pollMs);
  }
}
