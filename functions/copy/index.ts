// kubectl cp into a pod: kubectl execs `test -d DEST` (is DEST a directory?) and then
// `tar -xmf - -C DIR` with stdin, DIR being DEST or its parent. Stdin is never allowed for a plain
// exec (functions/exec); it is allowed here only for that tar, for a request with
// `copyOptions: {direction: in, path: DIR}`, and the audit event says so. Whoever holds such a
// grant can write any file below DIR: the archive's member names are the client's choice.
// Copying out (`tar cf - SRC`, stdout only) is a plain exec request and needs nothing here.
import * as v from 'valibot';
import { isAlwaysAllowed, shellQuote } from '../access.ts';
import { findGrantedRequest, targetsPod } from '../match.ts';
import { PodExecOptions, type AccessRequest, type AdmissionRequest } from '../schemas.ts';
import { allow, deny, type AuditEvent, type Concern, type Context, type Decision, type Lookup } from '../types.ts';

/** The tar argv prefixes kubectl cp sends into a pod (the second with --no-preserve). */
export const TAR_EXTRACT: readonly (readonly string[])[] = [
  ['tar', '-xmf', '-'],
  ['tar', '--no-same-permissions', '--no-same-owner', '-xmf', '-'],
];

/** The directory of a kubectl cp extract (`tar -xmf - -C DIR`), or undefined for any other command. */
export function extractDirectory(command: readonly string[]): string | undefined {
  for (const prefix of TAR_EXTRACT) {
    if (
      command.length === prefix.length + 2 &&
      prefix.every((arg, i) => command[i] === arg) &&
      command[prefix.length] === '-C' &&
      command[prefix.length + 1]
    ) {
      return command[prefix.length + 1];
    }
  }
  return undefined;
}

/** The path of kubectl cp's directory probe (`test -d PATH`), or undefined. */
export function probedPath(command: readonly string[]): string | undefined {
  return command.length === 3 && command[0] === 'test' && command[1] === '-d' && command[2] ? command[2] : undefined;
}

/** Lexical clean of an absolute POSIX path, as Go's path.Clean. */
export function cleanPath(path: string): string {
  const parts: string[] = [];
  for (const part of path.split('/')) {
    if (!part || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return `/${parts.join('/')}`;
}

function parentOf(path: string): string {
  const index = path.lastIndexOf('/');
  return index <= 0 ? '/' : path.slice(0, index);
}

/** Wraps the exec concern: what exec refuses may still be a granted kubectl cp into the pod. */
export function withCopyIn(exec: Concern): Concern {
  return async (request, lookup, context) => {
    const decision = await exec(request, lookup, context);
    if (decision.allowed || request.operation !== 'CONNECT' || isAlwaysAllowed(request.userInfo, context.config)) {
      return decision;
    }
    const parsed = v.safeParse(PodExecOptions, request.object);
    if (!parsed.success) return decision;
    const options = parsed.output;
    const directory = extractDirectory(options.command);
    if (directory !== undefined && options.stdin && !options.tty) {
      return copyIn(request, options, directory, lookup, context);
    }
    const probed = probedPath(options.command);
    if (probed !== undefined && !options.stdin && !options.tty) {
      const probe = await copyProbe(request, options, probed, lookup, context);
      if (probe.allowed) return probe;
    }
    return decision;
  };
}

function copyAudit(request: AdmissionRequest, options: PodExecOptions, path: string, isAllowed: boolean, probe = false): AuditEvent {
  return {
    type: 'audit-exec',
    data: { request, isAllowed, execOptions: { ...options, copy: { direction: 'in', path, ...(probe ? { probe: true } : {}) } }, isAdmin: false },
  };
}

/** A copy-in request of this user for this pod and container. */
export function matchesCopyIn(candidate: AccessRequest, review: AdmissionRequest, container: string, prefix: string): boolean {
  return (
    targetsPod(candidate, review, 'exec', prefix) &&
    candidate.spec.copyOptions?.direction === 'in' &&
    (candidate.spec.execOptions?.container ?? '') === container
  );
}

async function copyIn(request: AdmissionRequest, options: PodExecOptions, directory: string, lookup: Lookup, context: Context): Promise<Decision> {
  const prefix = context.config.usernamePrefix;
  const verdict = await findGrantedRequest({
    review: request,
    lookup,
    context,
    matches: (candidate) => matchesCopyIn(candidate, request, options.container, prefix) && candidate.spec.copyOptions?.path === directory,
    what: `kubectl cp into ${directory} of pod ${request.namespace}/${request.name}${options.container ? ` container ${options.container}` : ''}`,
    again: requestCopyInCommand(request, options.container, directory),
    usedBy: 'copy',
  });
  return verdict.allowed
    ? allow(`${verdict.message}; stdin allowed for kubectl cp into ${directory}`, { effects: verdict.effects, audit: [copyAudit(request, options, directory, true)] })
    : { ...verdict, audit: [copyAudit(request, options, directory, false)] };
}

/**
 * kubectl cp's `test -d DEST` before the tar: allowed, without using up a one-shot request, when
 * DEST is the requested directory or directly inside it. Refusing it would make kubectl extract
 * into the parent directory instead.
 */
async function copyProbe(request: AdmissionRequest, options: PodExecOptions, probed: string, lookup: Lookup, context: Context): Promise<Decision> {
  const prefix = context.config.usernamePrefix;
  const clean = cleanPath(probed);
  const verdict = await findGrantedRequest({
    review: request,
    lookup,
    context,
    matches: (candidate) => {
      const path = candidate.spec.copyOptions?.path;
      return matchesCopyIn(candidate, request, options.container, prefix) && (path === clean || path === parentOf(clean));
    },
    what: `directory check of kubectl cp`,
    again: requestCopyInCommand(request, options.container, clean),
    usedBy: 'directory check of kubectl cp',
    consume: false,
  });
  return verdict.allowed
    ? allow(verdict.message, { audit: [copyAudit(request, options, clean, true, true)] })
    : verdict;
}

export function requestCopyInCommand(request: Pick<AdmissionRequest, 'namespace' | 'name'>, container: string, directory: string): string {
  const parts = ['kubectl request cp', `-n ${shellQuote([request.namespace])}`];
  if (container) parts.push(`-c ${shellQuote([container])}`);
  parts.push('--valid-for 1h', 'FILE', shellQuote([`${request.name}:${directory === '/' ? '/' : `${directory}/`}`]));
  return parts.join(' ');
}

/** Request-time rule (functions/request targetRules, exec): what a copy-in request may ask. */
export function copyRule(spec: AccessRequest['spec']): string | undefined {
  const copy = spec.copyOptions;
  if (!copy) return undefined;
  if (copy.direction !== 'in') {
    return `spec.copyOptions.direction: only "in" is supported, got "${copy.direction}"; copying out is an exec of tar cf - PATH: kubectl request cp POD:PATH DEST`;
  }
  if (!copy.path.startsWith('/') || cleanPath(copy.path) !== copy.path) {
    return `spec.copyOptions.path: "${copy.path}" must be an absolute, clean directory path such as /tmp/upload`;
  }
  if (spec.execOptions?.command?.length) {
    return 'spec.execOptions.command: a copy-in request allows only kubectl cp\'s tar; leave the command empty';
  }
  return undefined;
}
