// CONNECT pods/attach: output-only attach to the container a granted request names.
// Attach joins the container's main process; with stdin or a tty that is an interactive session
// nobody can audit, so attach is stdout/stderr only, for requests and reviews alike.
import * as v from 'valibot';
import { isAlwaysAllowed, shellQuote } from '../access.ts';
import { findGrantedRequest, targetsPod } from '../match.ts';
import { describeIssues, PodAttachOptions, type AccessRequest, type AdmissionRequest, type PodExecOptions } from '../schemas.ts';
import { allow, deny, type AuditEvent, type Concern } from '../types.ts';

export const attach: Concern = async (request, lookup, context) => {
  if (request.operation !== 'CONNECT') {
    return deny(`pods/attach reviews must be CONNECT, got ${request.operation}`, 400);
  }
  const parsed = v.safeParse(PodAttachOptions, request.object);
  if (!parsed.success) {
    return deny(`malformed PodAttachOptions: ${describeIssues(parsed.issues)}`, 400);
  }
  const options = parsed.output;
  const audit = (isAllowed: boolean, isAdmin: boolean): AuditEvent => ({
    type: 'audit-exec',
    data: { request, isAllowed, execOptions: attachAsExecOptions(options), isAdmin },
  });

  if (isAlwaysAllowed(request.userInfo, context.config)) {
    return allow('always-allowed identity', { audit: [audit(true, true)] });
  }
  if (options.stdin || options.tty) {
    return deny(
      'interactive attach is not allowed: stdin (-i, --stdin) and tty (-t, --tty) cannot be audited; ' +
        `attach without -i/-t to read the output, after requesting it with: ${requestAttachCommand(request, options.container)}`,
      403,
      { audit: [audit(false, false)] },
    );
  }
  const prefix = context.config.usernamePrefix;
  const verdict = await findGrantedRequest({
    review: request,
    lookup,
    context,
    matches: (candidate) => matchesAttach(candidate, request, options.container, prefix),
    what: `attach to pod ${request.namespace}/${request.name}${options.container ? ` container ${options.container}` : ''}`,
    again: requestAttachCommand(request, options.container),
    usedBy: 'attach',
  });
  return verdict.allowed
    ? allow(verdict.message, { effects: verdict.effects, audit: [audit(true, false)] })
    : { ...verdict, audit: [audit(false, false)] };
};

/** A request for attach to exactly this container, never an interactive one. */
export function matchesAttach(candidate: AccessRequest, review: AdmissionRequest, container: string, prefix: string): boolean {
  const wanted = candidate.spec.attachOptions;
  return (
    targetsPod(candidate, review, 'attach', prefix) &&
    (wanted?.container ?? '') === container &&
    !wanted?.stdin &&
    !wanted?.tty
  );
}

/** Audit events keep the seed's `execOptions` field: the attach options in that shape, no command. */
export function attachAsExecOptions(options: PodAttachOptions): PodExecOptions {
  return { ...options, command: [] };
}

export function requestAttachCommand(request: Pick<AdmissionRequest, 'namespace' | 'name'>, container: string): string {
  const parts = ['kubectl request attach', `-n ${shellQuote([request.namespace])}`, shellQuote([request.name])];
  if (container) parts.push(`-c ${shellQuote([container])}`);
  parts.push('--valid-for 1h');
  return parts.join(' ');
}

/** Request-time rule (functions/request targetRules): what an attach request may ask. */
export function attachRule(spec: AccessRequest['spec']): string | undefined {
  if (spec.attachOptions?.stdin || spec.attachOptions?.tty) {
    return 'spec.attachOptions: stdin (-i, --stdin) and tty (-t, --tty) are not allowed, attach is output-only';
  }
  return undefined;
}
