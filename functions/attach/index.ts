// CONNECT pods/attach: output-only attach to the container a granted request names.
// Attach joins the container's main process; with stdin or a tty that is an interactive session
// nobody can audit, so attach is stdout/stderr only, for requests and reviews alike.
import { shellQuote } from '../access.ts';
import { podConcern, podOf, parseObject, type AccessKind, type RequestSpec } from '../kind.ts';
import { findGrantedRequest, targetsPod } from '../match.ts';
import { PodAttachOptions, type AccessRequest, type AdmissionRequest, type PodExecOptions } from '../schemas.ts';

export const attach = podConcern<PodAttachOptions>({
  resource: 'pods/attach',
  operation: 'CONNECT',
  parse: parseObject(PodAttachOptions, 'PodAttachOptions'),
  auditOptions: attachAsExecOptions,
  interactive: (options, request) =>
    options.stdin || options.tty
      ? 'interactive attach is not allowed: stdin (-i, --stdin) and tty (-t, --tty) cannot be audited; ' +
        `attach without -i/-t to read the output, after requesting it with: ${requestAttachCommand(request, options.container)}`
      : undefined,
  judge(request, options, lookup, context) {
    const prefix = context.config.usernamePrefix;
    return findGrantedRequest({
      review: request,
      lookup,
      context,
      matches: (candidate) => matchesAttach(candidate, request, options.container, prefix),
      what: `attach to pod ${request.namespace}/${request.name}${options.container ? ` container ${options.container}` : ''}`,
      again: requestAttachCommand(request, options.container),
      usedBy: 'attach',
    });
  },
});

/** A request for attach to exactly this container, never an interactive one. */
export function matchesAttach(
  candidate: AccessRequest,
  review: AdmissionRequest,
  container: string,
  prefix: string,
): boolean {
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

/** Request-time rule: what an attach request may ask. */
export function attachRule(spec: RequestSpec): string | undefined {
  if (spec.attachOptions?.stdin || spec.attachOptions?.tty) {
    return 'spec.attachOptions: stdin (-i, --stdin) and tty (-t, --tty) are not allowed, attach is output-only';
  }
  return undefined;
}

export const attachKind: AccessKind = {
  name: 'attach',
  subResource: 'attach',
  operation: 'CONNECT',
  optionFields: ['attachOptions'],
  review: attach,
  requestRule: attachRule,
  asks: (spec) => `attach to ${podOf(spec)}`,
  describe: (spec) => [
    ['container', spec.attachOptions?.container || '(default)'],
    ['attach', 'output only (stdout, stderr)'],
  ],
  brief: (spec) => `attach to ${spec.attachOptions?.container || 'the default container'} (output only)`,
  oneUse: 'attach',
  kubectl: (spec) => {
    const container = spec.attachOptions?.container;
    return ['attach', '-n', spec.forObject.namespace, spec.forObject.name, ...(container ? ['-c', container] : [])];
  },
};
