// UPDATE pods/ephemeralcontainers (kubectl debug): exactly one new ephemeral container, with the
// image, target, name and command a granted request names, a securityContext no looser than its
// profile, and nothing else in the Pod changed. The attach that may follow is reviewed on its
// own (functions/attach) and needs its own request.
import * as v from 'valibot';
import { shellQuote } from '../access.ts';
import { isDeepStrictEqual } from '../equal.ts';
import { podConcern, podOf, type AccessKind, type RequestSpec } from '../kind.ts';
import { findGrantedRequest, sameArgv, targetsPod } from '../match.ts';
import {
  describeIssues,
  Pod,
  type AccessRequest,
  type AdmissionRequest,
  type EphemeralContainer,
  type PodExecOptions,
} from '../schemas.ts';
import { deny } from '../types.ts';

type Json = Record<string, unknown>;

/** Profiles of `kubectl debug --profile` and the capabilities each may add to an ephemeral container. */
export const PROFILE_CAPABILITIES: Record<string, readonly string[] | 'any'> = {
  '': [],
  legacy: [],
  baseline: [],
  restricted: [],
  general: ['SYS_PTRACE'],
  netadmin: ['NET_ADMIN', 'NET_RAW'],
  sysadmin: 'any',
};

/** Fields of an ephemeral container that kubectl debug sets (after apiserver defaulting). */
const CONTAINER_FIELDS = new Set([
  'name',
  'image',
  'imagePullPolicy',
  'command',
  'args',
  'workingDir',
  'env',
  'terminationMessagePath',
  'terminationMessagePolicy',
  'stdin',
  'stdinOnce',
  'tty',
  'targetContainerName',
  'securityContext',
  'resources',
]);

/** Pod fields the apiserver itself changes when it stores an ephemeral container. */
const BOOKKEEPING: readonly (readonly string[])[] = [
  ['metadata', 'resourceVersion'],
  ['metadata', 'managedFields'],
  ['metadata', 'generation'],
  ['spec', 'ephemeralContainers'],
];

/** The review as debug reads it: the ephemeral containers before and after, and the one added. */
interface DebugUpdate {
  before: number;
  after: number;
  added: EphemeralContainer | undefined;
  rawAdded: Json | undefined;
}

function parseUpdate(request: AdmissionRequest): { options: DebugUpdate } | { malformed: string } {
  const next = v.safeParse(Pod, request.object);
  const previous = v.safeParse(Pod, request.oldObject);
  if (!next.success) return { malformed: `malformed Pod in object: ${describeIssues(next.issues)}` };
  if (!previous.success) return { malformed: `malformed Pod in oldObject: ${describeIssues(previous.issues)}` };
  const before = previous.output.spec.ephemeralContainers;
  const after = next.output.spec.ephemeralContainers;
  const added = after.length === before.length + 1 ? after[after.length - 1] : undefined;
  const rawAdded = added ? (rawEphemeralContainers(request.object)[after.length - 1] ?? {}) : undefined;
  return { options: { before: before.length, after: after.length, added, rawAdded } };
}

export const debug = podConcern<DebugUpdate>({
  resource: 'pods/ephemeralcontainers',
  operation: 'UPDATE',
  parse: parseUpdate,
  auditOptions: ({ added, rawAdded }) => debugAsExecOptions(added, rawAdded),
  async judge(request, { before, after, added, rawAdded }, lookup, context) {
    const shape = checkShape(request, request.object as Json, request.oldObject as Json, before, after);
    if (shape) return deny(shape);
    if (!added || !rawAdded) return deny('exactly one new ephemeral container must be added'); // checkShape ensures this
    const problem = checkContainer(rawAdded);
    if (problem) return deny(problem);

    const prefix = context.config.usernamePrefix;
    return findGrantedRequest({
      review: request,
      lookup,
      context,
      matches: (candidate) => matchesDebug(candidate, request, added, rawAdded, prefix),
      what: `debug container ${describeContainer(added)} in pod ${request.namespace}/${request.name}`,
      again: requestDebugCommand(request, added, neededProfile(rawAdded.securityContext)),
      usedBy: 'debug container',
    });
  },
});

function rawEphemeralContainers(pod: unknown): Json[] {
  const list = ((pod as Json | null)?.spec as Json | undefined)?.ephemeralContainers;
  return Array.isArray(list) ? (list as Json[]) : [];
}

/** The Pod stays the same pod and only gains one ephemeral container at the end. */
function checkShape(
  review: AdmissionRequest,
  object: Json,
  oldObject: Json,
  before: number,
  after: number,
): string | undefined {
  const meta = (object.metadata ?? {}) as Json;
  const oldMeta = (oldObject.metadata ?? {}) as Json;
  if (
    meta.name !== review.name ||
    oldMeta.name !== review.name ||
    (meta.namespace ?? review.namespace) !== review.namespace
  ) {
    return `the Pod in the review is not pod ${review.namespace}/${review.name}`;
  }
  if (meta.uid !== oldMeta.uid) return 'the Pod was re-created: metadata.uid changed';
  if (after !== before + 1) {
    return `exactly one new ephemeral container may be added per kubectl debug, this update goes from ${before} to ${after}`;
  }
  const oldList = rawEphemeralContainers(oldObject);
  const newList = rawEphemeralContainers(object);
  for (let i = 0; i < before; i++) {
    if (!isDeepStrictEqual(oldList[i], newList[i])) {
      return `existing ephemeral container ${String(oldList[i]?.name ?? i)} cannot be changed`;
    }
  }
  const changed = firstDifference(withoutBookkeeping(oldObject), withoutBookkeeping(object), '');
  if (changed !== undefined) {
    return `only a new ephemeral container may be added, but ${changed || 'the Pod'} changed too`;
  }
  return undefined;
}

function withoutBookkeeping(pod: Json): Json {
  const copy = structuredClone(pod);
  for (const [section, field] of BOOKKEEPING) {
    const part = copy[section!] as Json | undefined;
    if (part && typeof part === 'object') delete part[field!];
  }
  return copy;
}

/** The dotted path of the first difference between two JSON values, or undefined when equal. */
export function firstDifference(a: unknown, b: unknown, path: string): string | undefined {
  if (isDeepStrictEqual(a, b)) return undefined;
  if (
    typeof a !== 'object' ||
    typeof b !== 'object' ||
    a === null ||
    b === null ||
    Array.isArray(a) !== Array.isArray(b)
  ) {
    return path;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return path;
    for (let i = 0; i < a.length; i++) {
      const found = firstDifference(a[i], b[i], `${path}[${i}]`);
      if (found !== undefined) return found;
    }
    return path;
  }
  const keys = new Set([...Object.keys(a as Json), ...Object.keys(b as Json)]);
  for (const key of [...keys].sort()) {
    const found = firstDifference((a as Json)[key], (b as Json)[key], path ? `${path}.${key}` : key);
    if (found !== undefined) return found;
  }
  return path;
}

/** What no request can allow: fields kubectl debug never sets, secrets by reference, interactivity. */
function checkContainer(container: Json): string | undefined {
  const name = String(container.name ?? '');
  const extra = Object.keys(container).filter(
    (key) => !CONTAINER_FIELDS.has(key) && container[key] !== undefined && container[key] !== null,
  );
  if (extra.length) {
    return `ephemeral container ${name}: ${extra.sort().join(', ')} cannot be set (volumes, ports and the like are not part of a debug request)`;
  }
  const env = container.env;
  if (
    env !== undefined &&
    (!Array.isArray(env) ||
      env.some((item) => typeof item !== 'object' || item === null || (item as Json).valueFrom !== undefined))
  ) {
    return `ephemeral container ${name}: env may hold plain values only, not valueFrom (secrets and config maps stay out of reach)`;
  }
  const resources = container.resources;
  if (resources !== undefined && !isDeepStrictEqual(resources, {})) {
    return `ephemeral container ${name}: resources cannot be set`;
  }
  if (container.stdin === true || container.tty === true) {
    return (
      `ephemeral container ${name}: stdin (-i) and tty (-t) are not allowed, an interactive shell cannot be audited; ` +
      'run one command instead: kubectl debug POD --image IMAGE --target CONTAINER -- COMMAND, and read its output with kubectl logs'
    );
  }
  return undefined;
}

function capability(name: unknown): string {
  return String(name).toUpperCase().replace(/^CAP_/, '');
}

/** The least profile whose securityContext allows `securityContext`. */
export function neededProfile(securityContext: unknown): string {
  const sc = (securityContext ?? {}) as Json;
  const type = (value: unknown) => ((value ?? {}) as Json).type;
  if (
    sc.privileged === true ||
    sc.procMount === 'Unmasked' ||
    type(sc.seccompProfile) === 'Unconfined' ||
    type(sc.appArmorProfile) === 'Unconfined' ||
    ((sc.windowsOptions ?? {}) as Json).hostProcess === true
  ) {
    return 'sysadmin';
  }
  const added = Array.isArray((sc.capabilities as Json | undefined)?.add)
    ? ((sc.capabilities as Json).add as unknown[]).map(capability)
    : [];
  if (added.length === 0) return '';
  for (const profile of ['general', 'netadmin'] as const) {
    const allowed = PROFILE_CAPABILITIES[profile] as readonly string[];
    if (added.every((cap) => allowed.includes(cap))) return profile;
  }
  return 'sysadmin';
}

/** Whether a request with `profile` allows a container with `securityContext`. */
export function profileAllows(profile: string, securityContext: unknown): boolean {
  const allowed = PROFILE_CAPABILITIES[profile];
  if (allowed === undefined) return false;
  if (allowed === 'any') return true;
  const needed = neededProfile(securityContext);
  if (needed === '') return true;
  if (needed === 'sysadmin') return false;
  const caps = ((((securityContext as Json).capabilities as Json).add as unknown[]) ?? []).map(capability);
  return caps.every((cap) => allowed.includes(cap));
}

export function matchesDebug(
  candidate: AccessRequest,
  review: AdmissionRequest,
  added: EphemeralContainer,
  raw: Json,
  prefix: string,
): boolean {
  const wanted = candidate.spec.debugOptions;
  return (
    targetsPod(candidate, review, 'ephemeralcontainers', prefix) &&
    wanted !== undefined &&
    wanted.image !== '' &&
    wanted.image === added.image &&
    wanted.target === added.targetContainerName &&
    (!wanted.container || wanted.container === added.name) &&
    sameArgv(wanted.command, added.command) &&
    sameArgv(wanted.args, added.args) &&
    profileAllows(wanted.profile, raw.securityContext)
  );
}

function describeContainer(added: EphemeralContainer): string {
  const argv = [...added.command, ...added.args];
  return `${added.name} (image ${added.image}${added.targetContainerName ? `, target ${added.targetContainerName}` : ''}${argv.length ? `, command "${shellQuote(argv)}"` : ''})`;
}

/** Audit events keep the seed's `execOptions` field: the new container's name and argv, plus image and target. */
export function debugAsExecOptions(added: EphemeralContainer | undefined, raw: Json | undefined): PodExecOptions {
  return {
    stdin: added?.stdin ?? false,
    stdout: false,
    stderr: false,
    tty: added?.tty ?? false,
    container: added?.name ?? '',
    command: added ? [...added.command, ...added.args] : [],
    image: added?.image ?? '',
    targetContainerName: added?.targetContainerName ?? '',
    ...(raw?.securityContext ? { securityContext: raw.securityContext } : {}),
  };
}

export function requestDebugCommand(
  request: Pick<AdmissionRequest, 'namespace' | 'name'>,
  added: EphemeralContainer,
  profile = '',
): string {
  const parts = ['kubectl request debug', `-n ${shellQuote([request.namespace])}`, shellQuote([request.name])];
  parts.push(`--image ${shellQuote([added.image || 'IMAGE'])}`);
  if (added.targetContainerName) parts.push(`--target ${shellQuote([added.targetContainerName])}`);
  if (added.name) parts.push(`-c ${shellQuote([added.name])}`);
  if (profile) parts.push(`--profile ${profile}`);
  if (added.args.length && !added.command.length) parts.push('--arguments-only');
  const argv = added.command.length ? added.command : added.args;
  if (argv.length) parts.push('--', shellQuote(argv));
  return parts.join(' ');
}

/** Request-time rule: what a debug request must name. */
export function debugRule(spec: RequestSpec): string | undefined {
  const options = spec.debugOptions;
  if (!options?.image) return 'spec.debugOptions.image: name the image of the debug container (kubectl debug --image)';
  if (!Object.hasOwn(PROFILE_CAPABILITIES, options.profile)) {
    return `spec.debugOptions.profile: "${options.profile}" is not a kubectl debug profile; use one of ${Object.keys(PROFILE_CAPABILITIES).filter(Boolean).join(', ')}`;
  }
  if (options.container && !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(options.container)) {
    return `spec.debugOptions.container: "${options.container}" is not a valid container name`;
  }
  if (options.command.length && options.args.length) {
    return 'spec.debugOptions: give command or args, not both (kubectl debug sets args only with --arguments-only)';
  }
  return undefined;
}

export const debugKind: AccessKind = {
  name: 'debug',
  subResource: 'ephemeralcontainers',
  operation: 'UPDATE',
  optionFields: ['debugOptions'],
  review: debug,
  requestRule: debugRule,
  asks: (spec) => `debug ${podOf(spec)} with an ephemeral container`,
  describe: (spec) => {
    const options = spec.debugOptions;
    const argv = [...(options?.command ?? []), ...(options?.args ?? [])];
    return [
      ['image', options?.image || '(none)'],
      ['target', options?.target || '(none: no shared processes)'],
      ['container', options?.container || '(any name)'],
      ['command', argv.length ? shellQuote(argv) : 'the image entrypoint'],
      ['profile', options?.profile || 'legacy (no added privileges)'],
    ];
  },
  brief: (spec) =>
    `debug container of ${spec.debugOptions?.image || 'no image'}${spec.debugOptions?.target ? ` targeting ${spec.debugOptions.target}` : ''}`,
  oneUse: 'debug container',
  kubectl: (spec) => {
    const options = spec.debugOptions;
    // Read defensively: the CLI passes requests as the apiserver returned them, without schema defaults.
    const command = options?.command ?? [];
    const args = options?.args ?? [];
    const argumentsOnly = command.length === 0 && args.length > 0;
    const argv = argumentsOnly ? args : command;
    return [
      'debug',
      '-n',
      spec.forObject.namespace,
      spec.forObject.name,
      `--image=${options?.image || 'IMAGE'}`,
      ...(options?.target ? [`--target=${options.target}`] : []),
      ...(options?.container ? ['-c', options.container] : []),
      ...(options?.profile ? [`--profile=${options.profile}`] : []),
      ...(argumentsOnly ? ['--arguments-only'] : []),
      ...(argv.length ? ['--', ...argv] : []),
    ];
  },
};
