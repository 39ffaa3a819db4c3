// CONNECT pods/exec: lets exactly the requested and granted command through. kubectl cp rides on
// exec too: its copy-in (`tar -xmf - -C DIR` with stdin) and directory probe are explicit branches
// here, decided by functions/copy.
import { shellQuote } from '../access.ts';
import { copyIn, copyProbe, isCopy } from '../copy/index.ts';
import { nonInteractiveExec, podConcern, podOf, parseObject, type AccessKind } from '../kind.ts';
import { findGrantedRequest, sameArgv, targetsPod } from '../match.ts';
import { PodExecOptions, type AccessRequest, type AdmissionRequest } from '../schemas.ts';
import type { Context, Decision, Lookup } from '../types.ts';

export const exec = podConcern<PodExecOptions>({
  resource: 'pods/exec',
  operation: 'CONNECT',
  parse: parseObject(PodExecOptions, 'PodExecOptions'),
  auditOptions: (options) => options,
  // kubectl cp into the pod is stdin by design: allowed for its tar alone, for a copy-in request.
  before: (request, options, lookup, context) => copyIn(request, options, lookup, context),
  interactive: (options, request) =>
    options.stdin || options.tty
      ? 'interactive exec is not allowed: stdin (-i, --stdin) and tty (-t, --tty) cannot be audited; ' +
        `drop -i/-t and request a single command: ${requestCommand(request, options)}`
      : undefined,
  async judge(request, options, lookup, context) {
    const verdict = await findExecGrant(request, options, lookup, context);
    if (verdict.allowed) return verdict;
    // kubectl cp's `test -d DEST` before a copy in: allowed by the copy-in request, not used up.
    return (await copyProbe(request, options, lookup, context)) ?? verdict;
  },
});

/** The `kubectl request exec` command that would ask for exactly this exec. */
export function requestCommand(request: AdmissionRequest, options: PodExecOptions): string {
  const parts = ['kubectl request exec', `-n ${shellQuote([request.namespace])}`, shellQuote([request.name])];
  if (options.container) parts.push(`-c ${shellQuote([options.container])}`);
  parts.push('--valid-for 1h');
  parts.push('--', options.command.length ? shellQuote(options.command) : 'COMMAND');
  return parts.join(' ');
}

function matches(
  candidate: AccessRequest,
  request: AdmissionRequest,
  options: PodExecOptions,
  prefix: string,
): boolean {
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
    what: () =>
      `exec of ${options.command.length ? `"${shellQuote(options.command)}"` : 'this command'} in pod ${request.namespace}/${request.name}${options.container ? ` container ${options.container}` : ''}`,
    again: () => requestCommand(request, options),
    usedBy: 'exec',
  });
}

export const execKind: AccessKind = {
  name: 'exec',
  subResource: 'exec',
  operation: 'CONNECT',
  claims: (spec) => !isCopy(spec),
  optionFields: ['execOptions'],
  review: exec,
  requestRule: nonInteractiveExec,
  asks: (spec) => `exec in ${podOf(spec)}`,
  describe: (spec) => {
    const command = spec.execOptions?.command ?? [];
    return [
      ['container', spec.execOptions?.container || '(default)'],
      ['command', command.length ? shellQuote(command) : 'ANY command'],
    ];
  },
  brief: (spec) => {
    const command = spec.execOptions?.command ?? [];
    return command.length ? shellQuote(command) : 'ANY command';
  },
  oneUse: 'exec',
  kubectl: (spec) => {
    const command = spec.execOptions?.command ?? [];
    const container = spec.execOptions?.container;
    return [
      'exec',
      '-n',
      spec.forObject.namespace,
      spec.forObject.name,
      ...(container ? ['-c', container] : []),
      '--',
      ...(command.length ? command : ['COMMAND']),
    ];
  },
};
