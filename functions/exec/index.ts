// CONNECT pods/exec: lets exactly the requested and granted command through.
import * as v from 'valibot';
import {
  evaluateGrant,
  isAlwaysAllowed,
  isSameUser,
  shellQuote,
  specNamesFor,
  type GrantState,
} from '../access.ts';
import { formatDuration } from '../duration.ts';
import { describeIssues, PodExecOptions, type AccessRequest, type AdmissionRequest } from '../schemas.ts';
import { allow, deny, type Concern, type Context, type Decision, type Lookup } from '../types.ts';

export const exec: Concern = async (request, lookup, context) => {
  if (request.operation !== 'CONNECT') {
    return deny(`pods/exec reviews must be CONNECT, got ${request.operation}`, 400);
  }
  const parsed = v.safeParse(PodExecOptions, request.object);
  if (!parsed.success) {
    return deny(`malformed PodExecOptions: ${describeIssues(parsed.issues)}`, 400);
  }
  const options = parsed.output;
  const audit = (isAllowed: boolean, isAdmin: boolean) => ({
    type: 'audit-exec' as const,
    data: { request, isAllowed, execOptions: options, isAdmin },
  });

  if (isAlwaysAllowed(request.userInfo, context.config)) {
    return allow('always-allowed identity', { audit: [audit(true, true)] });
  }
  if (options.stdin || options.tty) {
    return deny(
      'interactive exec is not allowed: stdin (-i, --stdin) and tty (-t, --tty) cannot be audited; ' +
        `drop -i/-t and request a single command: ${requestCommand(request, options)}`,
      403,
      { audit: [audit(false, false)] },
    );
  }

  const verdict = await findGrantedRequest(request, options, lookup, context);
  if (verdict.allowed) {
    return allow(verdict.message, { effects: verdict.effects, audit: [audit(true, false)] });
  }
  return { ...verdict, audit: [audit(false, false)] };
};

/** The `kubectl request exec` command that would ask for exactly this exec. */
export function requestCommand(request: AdmissionRequest, options: PodExecOptions): string {
  const parts = ['kubectl request exec', `-n ${shellQuote([request.namespace])}`, shellQuote([request.name])];
  if (options.container) parts.push(`-c ${shellQuote([options.container])}`);
  parts.push('--valid-for 1h');
  parts.push('--', options.command.length ? shellQuote(options.command) : 'COMMAND');
  return parts.join(' ');
}

function matches(candidate: AccessRequest, request: AdmissionRequest, options: PodExecOptions, prefix: string): boolean {
  const { spec, metadata } = candidate;
  const wanted = spec.execOptions;
  return (
    metadata.namespace === request.namespace &&
    spec.forObject.namespace === request.namespace &&
    spec.forObject.name === request.name &&
    spec.forObject.subResource === 'exec' &&
    spec.forObject.resource.resource === 'pods' &&
    !spec.forObject.resource.group &&
    !metadata.deletionTimestamp &&
    isSameUser(spec.userInfo.username, request.userInfo.username, prefix) &&
    (wanted?.container ?? '') === options.container &&
    !wanted?.stdin &&
    !wanted?.tty &&
    (!wanted?.command?.length ||
      (wanted.command.length === options.command.length && wanted.command.every((arg, i) => arg === options.command[i])))
  );
}

const PREFERENCE: Record<GrantState['state'], number> = { granted: 0, denied: 1, expired: 2, pending: 3, invalid: 4 };

/**
 * Picks the request that lets this exec through, preferring a time-bound grant over consuming a
 * one-shot one. Without one, explains the most useful reason (denied > expired > pending > none).
 */
async function findGrantedRequest(
  request: AdmissionRequest,
  options: PodExecOptions,
  lookup: Lookup,
  context: Context,
): Promise<Decision> {
  const prefix = context.config.usernamePrefix;
  const candidates = (
    await lookup.accessRequestsFor({
      namespace: request.namespace,
      pod: request.name,
      usernames: specNamesFor(request.userInfo.username, prefix),
    })
  ).filter((candidate) => matches(candidate, request, options, prefix));

  const evaluated = await Promise.all(
    candidates.map(async (candidate) => ({
      candidate,
      state: evaluateGrant(
        candidate,
        await lookup.grantsFor(request.namespace, candidate.metadata.name),
        context.now,
        prefix,
      ),
    })),
  );
  evaluated.sort(
    (a, b) =>
      PREFERENCE[a.state.state] - PREFERENCE[b.state.state] ||
      Number(!a.candidate.spec.validFor) - Number(!b.candidate.spec.validFor),
  );
  const best = evaluated[0];
  const what = `exec of ${options.command.length ? `"${shellQuote(options.command)}"` : 'this command'} in pod ${request.namespace}/${request.name}${options.container ? ` container ${options.container}` : ''}`;
  const again = requestCommand(request, options);
  if (!best) {
    return deny(`no AccessRequest of yours matches this ${what}; request it with: ${again}`);
  }
  const name = best.candidate.metadata.name;
  switch (best.state.state) {
    case 'granted': {
      const { expiresAt } = best.state;
      if (expiresAt) {
        return allow(`granted by AccessRequest ${name} until ${expiresAt.toISOString()} (${formatDuration(expiresAt.getTime() - context.now.getTime())} left)`);
      }
      const { uid, resourceVersion, namespace } = best.candidate.metadata;
      return allow(`granted once by AccessRequest ${name}; it is used up by this exec`, {
        effects: [{ type: 'consume-request', namespace, name, uid, resourceVersion }],
      });
    }
    case 'denied': {
      const { grant } = best.state;
      const reason = grant.spec.reason ? `: ${grant.spec.reason}` : '';
      return deny(`AccessRequest ${name} was denied by ${grant.spec.grantedBy.username}${reason}; to ask again: ${again}`);
    }
    case 'expired':
      return deny(`AccessRequest ${name} expired at ${best.state.expiresAt.toISOString()}; request again: ${again}`);
    case 'pending':
      return deny(`AccessRequest ${name} is not granted yet; ask an approver to run: kubectl request grant -n ${request.namespace} ${name}`);
    case 'invalid':
      return deny(`AccessRequest ${name} cannot be used: ${best.state.reason}; request again: ${again}`);
  }
}
