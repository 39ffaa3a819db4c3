// CONNECT pods/exec: lets exactly the requested and granted command through.
import * as v from 'valibot';
import { isAlwaysAllowed, shellQuote } from '../access.ts';
import { findGrantedRequest, sameArgv, targetsPod } from '../match.ts';
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

  const verdict = await findExecGrant(request, options, lookup, context);
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
  const wanted = candidate.spec.execOptions;
  return (
    targetsPod(candidate, request, 'exec', prefix) &&
    // A kubectl cp copy-in request allows only its tar (functions/copy), never a command.
    !candidate.spec.copyOptions &&
    (wanted?.container ?? '') === options.container &&
    !wanted?.stdin &&
    !wanted?.tty &&
    (!wanted?.command?.length || sameArgv(wanted.command, options.command))
  );
}

/**
 * Picks the request that lets this exec through, preferring a time-bound grant over consuming a
 * one-shot one. Without one, explains the most useful reason (denied > expired > pending > none).
 */
function findExecGrant(
  request: AdmissionRequest,
  options: PodExecOptions,
  lookup: Lookup,
  context: Context,
): Promise<Decision> {
  const prefix = context.config.usernamePrefix;
  return findGrantedRequest({
    review: request,
    lookup,
    context,
    matches: (candidate) => matches(candidate, request, options, prefix),
    what: `exec of ${options.command.length ? `"${shellQuote(options.command)}"` : 'this command'} in pod ${request.namespace}/${request.name}${options.container ? ` container ${options.container}` : ''}`,
    again: requestCommand(request, options),
    usedBy: 'exec',
  });
}
