// kubectl cp into a pod: kubectl execs `test -d DEST` (is DEST a directory?) and then
// `tar -xmf - -C DIR` with stdin, DIR being DEST or its parent. Stdin is never allowed for a plain
// exec (functions/exec); it is allowed here only for that tar, for a request with
// `copyOptions: {direction: in, path: DIR}`, and the audit event says so. Whoever holds such a
// grant can write any file below DIR: the archive's member names are the client's choice.
// Copying out (`tar cf - SRC`, stdout only) is a plain exec request; this kind only names and
// describes it as the kubectl cp it is.
import { shellQuote } from '../access.ts';
import { nonInteractiveExec, podOf, type AccessKind, type RequestSpec, type Verdict } from '../kind.ts';
import { findGrantedRequest, targetsPod } from '../match.ts';
import type { AccessRequest, AdmissionRequest, PodExecOptions } from '../schemas.ts';
import { allow, type Context, type Lookup } from '../types.ts';

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

/** Whether a request is for kubectl cp: a copy-in request, or the exec of kubectl cp's `tar cf - SRC`. */
export function isCopy(spec: RequestSpec): boolean {
  return spec.copyOptions !== undefined || copiedOut(spec.execOptions?.command ?? []) !== undefined;
}

/** The source of kubectl cp out of a pod (`tar cf - SRC`), or undefined for any other command. */
export function copiedOut(command: readonly string[]): string | undefined {
  return command.length === 4 && command[0] === 'tar' && command[1] === 'cf' && command[2] === '-' && command[3]
    ? command[3]
    : undefined;
}

function withCopy(options: PodExecOptions, path: string, probe = false): PodExecOptions {
  return { ...options, copy: { direction: 'in', path, ...(probe ? { probe: true } : {}) } };
}

/** A copy-in request of this user for this pod and container. */
export function matchesCopyIn(
  candidate: AccessRequest,
  review: AdmissionRequest,
  container: string,
  prefix: string,
): boolean {
  return (
    targetsPod(candidate, review, 'exec', prefix) &&
    candidate.spec.copyOptions?.direction === 'in' &&
    (candidate.spec.execOptions?.container ?? '') === container
  );
}

/**
 * The exec review's copy-in branch: kubectl cp's `tar -xmf - -C DIR` with stdin (never a tty),
 * allowed by a copy-in request for DIR. Undefined for any other exec.
 */
export async function copyIn(
  request: AdmissionRequest,
  options: PodExecOptions,
  lookup: Lookup,
  context: Context,
): Promise<Verdict | undefined> {
  const directory = extractDirectory(options.command);
  if (directory === undefined || !options.stdin || options.tty) return undefined;
  const prefix = context.config.usernamePrefix;
  const verdict = await findGrantedRequest({
    review: request,
    lookup,
    context,
    matches: (candidate) =>
      matchesCopyIn(candidate, request, options.container, prefix) && candidate.spec.copyOptions?.path === directory,
    what: `kubectl cp into ${directory} of pod ${request.namespace}/${request.name}${options.container ? ` container ${options.container}` : ''}`,
    again: requestCopyInCommand(request, options.container, directory),
    usedBy: 'copy',
  });
  const auditOptions = withCopy(options, directory);
  return verdict.allowed
    ? {
        ...allow(`${verdict.message}; stdin allowed for kubectl cp into ${directory}`, { effects: verdict.effects }),
        auditOptions,
      }
    : { ...verdict, auditOptions };
}

/**
 * The exec review's branch for kubectl cp's `test -d DEST` before the tar: allowed, without using
 * up a one-shot request, when DEST is the requested directory or directly inside it. Refusing it
 * would make kubectl extract into the parent directory instead. Undefined unless allowed.
 */
export async function copyProbe(
  request: AdmissionRequest,
  options: PodExecOptions,
  lookup: Lookup,
  context: Context,
): Promise<Verdict | undefined> {
  const probed = probedPath(options.command);
  if (probed === undefined || options.stdin || options.tty) return undefined;
  const prefix = context.config.usernamePrefix;
  const clean = cleanPath(probed);
  const verdict = await findGrantedRequest({
    review: request,
    lookup,
    context,
    matches: (candidate) => {
      const path = candidate.spec.copyOptions?.path;
      return (
        matchesCopyIn(candidate, request, options.container, prefix) && (path === clean || path === parentOf(clean))
      );
    },
    what: `directory check of kubectl cp`,
    again: requestCopyInCommand(request, options.container, clean),
    usedBy: 'directory check of kubectl cp',
    consume: false,
  });
  return verdict.allowed ? { ...allow(verdict.message), auditOptions: withCopy(options, clean, true) } : undefined;
}

export function requestCopyInCommand(
  request: Pick<AdmissionRequest, 'namespace' | 'name'>,
  container: string,
  directory: string,
): string {
  const parts = ['kubectl request cp', `-n ${shellQuote([request.namespace])}`];
  if (container) parts.push(`-c ${shellQuote([container])}`);
  parts.push('--valid-for 1h', 'FILE', shellQuote([`${request.name}:${intoDirectory(directory)}`]));
  return parts.join(' ');
}

/** Request-time rule: what a copy-in request may ask. */
export function copyRule(spec: RequestSpec): string | undefined {
  const copy = spec.copyOptions;
  if (!copy) return undefined;
  if (copy.direction !== 'in') {
    return `spec.copyOptions.direction: only "in" is supported, got "${copy.direction}"; copying out is an exec of tar cf - PATH: kubectl request cp POD:PATH DEST`;
  }
  if (!copy.path.startsWith('/') || cleanPath(copy.path) !== copy.path) {
    return `spec.copyOptions.path: "${copy.path}" must be an absolute, clean directory path such as /tmp/upload`;
  }
  if (spec.execOptions?.command?.length) {
    return "spec.execOptions.command: a copy-in request allows only kubectl cp's tar; leave the command empty";
  }
  return undefined;
}

/** The path in the pod as kubectl cp names a directory to copy into (with the slash that says "directory"). */
function intoDirectory(directory: string): string {
  return directory === '/' ? '/' : `${directory}/`;
}

/** kubectl cp, out of a pod (an exec of `tar cf - SRC`) or into one (a copy-in request). */
export const copyKind: AccessKind = {
  name: 'cp',
  subResource: 'exec',
  operation: 'CONNECT',
  claims: isCopy,
  optionFields: ['execOptions', 'copyOptions'],
  // No review of its own: functions/exec branches into copyIn and copyProbe.
  requestRule: (spec) => nonInteractiveExec(spec) ?? copyRule(spec),
  asks: (spec) => {
    const into = spec.copyOptions?.path;
    return into !== undefined
      ? `copy into ${into} of ${podOf(spec)}`
      : `copy ${copiedOut(spec.execOptions?.command ?? []) ?? ''} out of ${podOf(spec)}`;
  },
  describe: (spec) => {
    const container: [string, string] = ['container', spec.execOptions?.container || '(default)'];
    const into = spec.copyOptions?.path;
    if (into !== undefined) {
      return [container, ['copy in', `kubectl cp into ${into}: stdin to tar, may write any file below ${into}`]];
    }
    const command = spec.execOptions?.command ?? [];
    return [
      container,
      ['command', shellQuote(command)],
      ['copy out', `kubectl cp of ${copiedOut(command) ?? ''}, output only`],
    ];
  },
  brief: (spec) =>
    spec.copyOptions
      ? `copy into ${spec.copyOptions.path}`
      : `copy out of ${copiedOut(spec.execOptions?.command ?? []) ?? ''}`,
  oneUse: 'copy',
  kubectl: (spec, hints = {}) => {
    const { namespace, name } = spec.forObject;
    const container = spec.execOptions?.container;
    const flags = ['-n', namespace, ...(container ? ['-c', container] : [])];
    const into = spec.copyOptions?.path;
    if (into !== undefined) {
      return ['cp', ...flags, hints.local ?? 'FILE', `${name}:${hints.remotePath ?? intoDirectory(into)}`];
    }
    const source = copiedOut(spec.execOptions?.command ?? []) ?? '';
    return ['cp', ...flags, `${name}:${hints.remotePath ?? source}`, hints.local ?? 'DEST'];
  },
};
